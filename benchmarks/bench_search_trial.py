"""Benchmark: cost of one Monte-Carlo search trial at the paper's settings, extrapolated to the search (run on demand).

    .venv/bin/python benchmarks/bench_search_trial.py                  # ~5 min on 2 cores
    .venv/bin/python benchmarks/bench_search_trial.py --draws 4 --samples 2000 --epochs 2   # quicker

A trial of the paper's search (Sec. 4.2.2, profile ``params/paper.yaml``)
samples T = 120,000 spectra and trains the classifier for 300 epochs on
96,000 of them; one trial is hours on a laptop, so the two parts are timed
separately and extrapolated:

- spectra: ``--samples`` spectra (drawn from ``--samples / 2`` training images,
  the paper's ratio of 120,000 spectra to 60,000 images) for the published
  best parameters and for the first ``--draws`` parameter sets of the search
  (:func:`pixelsoap.experiments.search.monte_carlo.draw_params`, seed of the profile), one process each
  as on a search worker -> seconds per spectrum;
- training: ``--epochs`` epochs of the profile's classifier on 96,000 + 24,000
  random rows for the smallest, the published (308) and the largest descriptor
  size d (JAX limited to ``--threads`` threads, 1 as on a search worker)
  -> seconds per epoch, interpolated linearly in d for the other sets.

Prints the cost per parameter set, the mean trial and the search's total for
``n_trials`` trials on ``--workers`` parallel workers.  Writes nothing.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pixelsoap import load_mnist, sample_spectra
from pixelsoap.experiments.search.monte_carlo import SearchSpace, check_soap_params, draw_params
from pixelsoap.runtime.profiles import load_profile

PUBLISHED = {"r_cut": 63, "n_max": 7, "l_max": 10, "sigma": 3}


def spectra_cost(params: dict, n_samples: int, images: np.ndarray, labels: np.ndarray, seed: int) -> float:
    """Seconds per sampled spectrum for ``params`` (one process, paper's spectra-per-image ratio)."""
    soap = check_soap_params(params)
    n_images = max(1, n_samples // 2)
    sample_spectra(images[:50], labels[:50], soap, 50, seed, n_jobs=1, progress=False)  # warm-up (DScribe set-up)
    start = time.perf_counter()
    sample_spectra(images[:n_images], labels[:n_images], soap, n_samples, seed, n_jobs=1, progress=False)
    return (time.perf_counter() - start) / n_samples


def epoch_cost(n_features: int, n_train: int, n_val: int, classifier: dict, epochs: int) -> tuple[float, float]:
    """(seconds of the first epoch, median seconds of the later ones) for ``n_features`` inputs."""
    from pixelsoap.models.classifier import ClassifierConfig, train_classifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_train + n_val, n_features)).astype(np.float32)
    y = rng.integers(0, 10, n_train + n_val).astype(np.uint8)
    config = ClassifierConfig.from_mapping({**classifier, "epochs": epochs, "patience": None})
    _, history = train_classifier(X[:n_train], y[:n_train], X[n_train:], y[n_train:], config, verbose=0)
    seconds = history["epoch_seconds"]
    return seconds[0], float(np.median(seconds[1:])) if len(seconds) > 1 else seconds[0]


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="paper", help="profile whose experiment1.search settings are timed")
    parser.add_argument("--draws", type=int, default=6, help="parameter sets of the search to time (besides the "
                        "published best)")
    parser.add_argument("--samples", type=int, default=3000, help="spectra timed per parameter set")
    parser.add_argument("--epochs", type=int, default=3, help="epochs timed per descriptor size (>= 2)")
    parser.add_argument("--threads", type=int, default=1, help="JAX threads (search workers use 1)")
    parser.add_argument("--workers", type=int, default=None, help="parallel workers (default: the profile's)")
    args = parser.parse_args()

    profile = load_profile(args.profile)
    cfg, seed = profile["experiment1"]["search"], int(profile["seed"])
    workers = args.workers or int(profile["experiment1"].get("dask", {}).get("n_workers", 2))
    T, n_trials, epochs = int(cfg["n_samples"]), int(cfg["n_trials"]), int(cfg["classifier"]["epochs"])
    n_val = int(round(cfg.get("val_fraction", 0.2) * T))
    n_train = T - n_val
    classifier = {**cfg["classifier"], "seed": seed}
    space = SearchSpace.from_mapping(cfg["space"])
    print(f"profile {args.profile}: {n_trials} trials, T = {T} spectra ({n_train} train / {n_val} val), "
          f"{epochs} epochs, classifier {classifier['hidden_units']}, {workers} workers, "
          f"JAX threads {args.threads}")

    from pixelsoap.models import configure_threads

    configure_threads(args.threads)
    images, labels = load_mnist("train")

    print(f"\nspectra: {args.samples} per parameter set, one process")
    sets = [("published best", PUBLISHED)] + [(f"draw {k}", draw_params(space, seed, k)) for k in range(args.draws)]
    rows = []
    for label, params in sets:
        try:
            d = check_soap_params(params).size
        except ValueError as exc:
            print(f"  {label:15s} {params}: invalid ({exc})")
            continue
        per = spectra_cost(params, args.samples, images, labels, seed)
        rows.append((label, params, d, per))
        print(f"  {label:15s} r_cut={params['r_cut']:>5} n_max={params['n_max']:>2} l_max={params['l_max']:>2} "
              f"sigma={params['sigma']:>4}  d={d:4d}  {per * 1e3:7.3f} ms/spectrum -> {hours(per * T)} for T")

    def size(n_max: int, l_max: int) -> int:
        return n_max * (n_max + 1) // 2 * (l_max + 1)

    sizes = sorted({size(space.n_max[0], space.l_max[0]), 308, size(space.n_max[1], space.l_max[1])})
    print(f"\ntraining: {args.epochs} epochs on {n_train} + {n_val} random rows per descriptor size")
    fits = []
    for d in sizes:
        first, per_epoch = epoch_cost(d, n_train, n_val, classifier, max(2, args.epochs))
        fits.append((d, first, per_epoch))
        print(f"  d={d:4d}  first epoch {first:6.1f} s, then {per_epoch:6.2f} s/epoch -> "
              f"{hours(first + per_epoch * (epochs - 1))} for {epochs} epochs")
    d_arr = np.array([f[0] for f in fits], float)

    def train_seconds(d: int) -> float:
        """First epoch + (epochs - 1) later ones, interpolated linearly between the measured sizes."""
        first = np.interp(d, d_arr, [f[1] for f in fits])
        return float(first + np.interp(d, d_arr, [f[2] for f in fits]) * (epochs - 1))

    print("\nestimated trial cost (spectra + training):")
    trial_seconds = []
    for label, _params, d, per in rows:
        spectra_s = per * T
        train_s = train_seconds(d)
        trial_seconds.append((label, spectra_s + train_s))
        print(f"  {label:15s} d={d:4d}  spectra {hours(spectra_s):>9s} + training {hours(train_s):>9s} "
              f"= {hours(spectra_s + train_s)}")
    drawn = [s for label, s in trial_seconds if label.startswith("draw")] or [s for _, s in trial_seconds]
    mean_trial = float(np.mean(drawn))
    mean_d = float(np.mean([d for label, _, d, _ in rows if label.startswith("draw")] or [rows[0][2]]))
    print(f"\nmean trial over the drawn parameter sets: {hours(mean_trial)} (mean d = {mean_d:.0f})")
    print(f"{n_trials} trials: {hours(n_trials * mean_trial)} of worker time; on {workers} workers "
          f"~{hours(n_trials * mean_trial / workers)} wall time")
    space_d = float(np.mean([size(n, l) for n in range(space.n_max[0], space.n_max[1] + 1)
                             for l in range(space.l_max[0], space.l_max[1] + 1)]))
    print(f"spectra cache (search-spectra/*.npz, float32): ~{T * space_d * 4 / 1e6:.0f} MB per trial "
          f"(mean d over the space {space_d:.0f}), ~{n_trials * T * space_d * 4 / 1e9:.1f} GB for the search")


if __name__ == "__main__":
    main()

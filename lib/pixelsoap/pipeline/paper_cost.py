"""What the ``paper`` profile would cost, extrapolated from a measured run of another profile.

``python -m pixelsoap.pipeline.paper_cost`` reads the outputs of the last run (``results/``, the active
``params.yaml``) and ``params/paper.yaml``, and prints one row per stage: what the run measured,
the factor to the paper's settings and the resulting core-hours and wall time on the measured
machine.  Every factor is a ratio of the two profiles' own numbers (rows x epochs, trials,
seeds); nothing is typed here.  The estimates assume cost proportional to rows x epochs at a fixed
model size, which errs high for small runs (their fixed costs, compilation and start-up, do not
grow with the paper's sizes).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from pixelsoap.experiments.experiment4.invariance import parse_section, plan_transforms
from pixelsoap.runtime import paths


def _read(root: Path, rel: str) -> Any:
    path = root / rel
    if not path.is_file():
        return None
    if path.suffix == ".json":
        return json.loads(path.read_text())
    if path.suffix == ".csv":
        return pd.read_csv(path)
    return yaml.safe_load(path.read_text())


def layer_cost(n_features: int, hidden: tuple[int, ...] | list[int], n_classes: int = 10) -> int:
    """Multiply-adds per row of the classifier's forward pass (n_features -> hidden -> n_classes)."""
    widths = [int(n_features), *map(int, hidden), n_classes]
    return sum(a * b for a, b in zip(widths, widths[1:]))


def search_cost(trials, run: Mapping, paper: Mapping, epoch_core_seconds: float | None,
                rows_per_epoch: int) -> dict | None:
    """Core-seconds of the paper's search.

    Training: ``epoch_core_seconds`` (one epoch of the Table 1 classifier on ``rows_per_epoch``
    rows, 308 features, measured in this run) scaled to each completed trial's descriptor size
    (:func:`layer_cost`) and to the paper's rows and epochs, averaged over the trials (their sizes
    are a sample of the search space), times the paper's trial count.  SOAP: each trial's
    spectra seconds x (paper spectra / run spectra).
    """
    if trials is None or epoch_core_seconds is None:
        return None
    done = trials[trials["state"] == "COMPLETE"]
    if done.empty:
        return None
    r, p = run["experiment1"]["search"], paper["experiment1"]["search"]
    hidden = p["classifier"]["hidden_units"]
    size = (done["n_features"].map(lambda f: layer_cost(f, hidden)) / layer_cost(308, hidden)).mean()
    rows = p["n_samples"] * (1 - p.get("val_fraction", 0.2))
    train = epoch_core_seconds * size * rows / rows_per_epoch * p["classifier"]["epochs"]
    spectra = done["spectra_seconds"].mean() * p["n_samples"] / r["n_samples"]
    return {"stage": "search", "measured": f"{len(done)} trials' sizes and SOAP times; the Table 1 epoch",
            "factor": f"{p['n_trials']} trials x {p['classifier']['epochs']} epochs x {rows:,.0f} rows",
            "core_seconds": float((train + spectra) * p["n_trials"])}


def _notebook_seconds(root: Path, stem: str) -> float | None:
    """Papermill's duration of an executed notebook of the last run, or None."""
    path = root / "results" / "notebooks" / f"{stem}.ipynb"
    if not path.is_file():
        return None
    return json.loads(path.read_text()).get("metadata", {}).get("papermill", {}).get("duration")


def scaled_stage(stage: str, seconds: float | None, factor: float, why: str, cores: int) -> dict | None:
    """A stage whose whole measured time scales by ``factor`` (its wall time on ``cores`` cores)."""
    if seconds is None:
        return None
    return {"stage": stage, "measured": f"{seconds:.0f} s on {cores} cores", "factor": why,
            "core_seconds": float(seconds * cores * factor)}


def baselines_work(profile: Mapping) -> float:
    """Training rows x epochs x seeds of a profile's baselines stage (each of its four models trains that much).

    The rows are ``baselines.n_train`` (null: every one of the spectra stage's ``spectra.n_train``),
    at most ``spectra.n_train``; the epochs are ``experiment1.final.classifier.epochs``.
    """
    available = profile["spectra"]["n_train"]
    rows = min(profile["baselines"].get("n_train") or available, available)
    return float(rows * profile["experiment1"]["final"]["classifier"]["epochs"] * profile["baselines"]["n_seeds"])


def experiment5_cost(metrics: Mapping | None, run: Mapping, paper: Mapping, cores: int) -> dict | None:
    """Experiment 5 at the paper profile's sizes from the run's own measurements (its metrics.json): per
    encoding, the ms per test image x test images x transforms, the training pixels' SOAP x the pixels' ratio,
    and the seeds' training x rows x epochs x seeds' ratio.  None without metrics."""
    from pixelsoap.experiments.experiment5.benchmark import parse_section as parse5
    from pixelsoap.experiments.experiment5.benchmark import plan_transforms as plan5
    from pixelsoap.experiments.experiment5.findings import key_of

    if not metrics or not metrics.get("cost_ms_per_image"):
        return None
    r, p = parse5(run["experiment5"]), parse5(paper["experiment5"])
    work = lambda c: c["n_samples"] * c["classifier"]["epochs"] * c["n_seeds"]
    seconds = 0.0
    for encoding in p["encodings"]:
        key = key_of(encoding)
        ms = metrics["cost_ms_per_image"].get(key) or max(metrics["cost_ms_per_image"].values())
        train = metrics.get("training", {}).get(key) or {}
        seconds += ms / 1000 * p["n_test"] * len(plan5(p))
        seconds += float(train.get("soap_seconds") or 0) * p["n_samples"] / r["n_samples"]
        seconds += float(train.get("train_seconds") or 0) * work(p) / work(r)
    return {"stage": "experiment5", "measured": f"{metrics.get('seconds', 0):.0f} s on {cores} cores",
            "factor": "per encoding: ms per test image x test images x transforms, plus its training SOAP and "
                      "seeds' group scaled by pixels and by pixels x epochs x seeds (the paper's early stopping "
                      "makes this an upper bound)",
            "core_seconds": float(seconds * cores)}


def estimate(root: str | Path | None = None, cores: int | None = None) -> list[dict]:
    """One dict per stage with ``stage``, ``measured``, ``factor``, ``core_seconds``, ``hours_wall``."""
    root = Path(root or paths.project_root())
    cores = cores or os.cpu_count() or 1
    run = _read(root, "params.yaml")
    paper = _read(root, "params/paper.yaml")
    if run is None:
        raise FileNotFoundError(f"{root / 'params.yaml'}: no active profile; run `make reproduce` first")
    exp1_seconds = _notebook_seconds(root, "03-experiment1")
    r1, p1 = run["experiment1"]["final"]["classifier"], paper["experiment1"]["final"]["classifier"]
    spectra = _read(root, "results/spectra/metrics.json") or {}
    # The experiment1 stage is mostly its two Table 1 classifiers: an upper bound of one epoch.
    epoch = exp1_seconds * cores / (2 * r1["epochs"]) if exp1_seconds else None
    rows = [search_cost(_read(root, "results/experiment1/trials.csv"), run, paper, epoch,
                        int(spectra.get("n_train", 96_000)))]
    rows.append(scaled_stage("experiment1", exp1_seconds, p1["epochs"] / r1["epochs"],
                             f"x{p1['epochs'] / r1['epochs']:.0f} epochs (the stage is mostly its two classifiers)",
                             cores))

    exp2 = _read(root, "results/experiment2/metrics.json")
    grid = (exp2 or {}).get("timing", {}).get("paper_grid_core_hours")
    if grid:
        rows.append({"stage": "experiment2", "measured": "two epochs of each autoencoder kind at h_e = 154",
                     "factor": "every h_e 1..308 of 4 kinds x 10,000 epochs x 96,000 rows "
                               "(experiments.experiment2.costs.paper_grid_estimate)",
                     "core_seconds": float(grid["total"]) * 3600})
    exp3 = _read(root, "results/experiment3/metrics.json")
    r3, p3 = run["experiment3"], paper["experiment3"]
    factor3 = (p3["n_seeds"] * p3["n_samples"]) / (r3["n_seeds"] * r3["n_samples"])
    rows.append(scaled_stage("experiment3", (exp3 or {}).get("seconds"), factor3,
                             f"x{factor3:.2f} seeds x spectra", cores))
    r4, p4 = run.get("experiment4"), paper.get("experiment4")
    if r4 and p4:
        images = lambda c: c["n_seeds"] * (c["n_test"] * len(plan_transforms(parse_section(c))) + c["n_train"])
        factor4 = images(p4) / images(r4)
        rows.append(scaled_stage("experiment4", _notebook_seconds(root, "06-experiment4"), factor4,
                                 f"x{factor4:.1f} images through SOAP (test images x transforms + training "
                                 "images, x seeds); the CNNs' share errs high", cores))
    if run.get("baselines") and paper.get("baselines"):
        factor5 = baselines_work(paper) / baselines_work(run)
        rows.append(scaled_stage("baselines", _notebook_seconds(root, "07-baselines"), factor5,
                                 f"x{factor5:.0f} training rows x epochs x seeds (four models)", cores))
    if run.get("experiment5") and paper.get("experiment5"):
        rows.append(experiment5_cost(_read(root, "results/experiment5/metrics.json"), run, paper, cores))
    out = [r for r in rows if r]
    for r in out:
        r["core_hours"] = r["core_seconds"] / 3600
        r["hours_wall"] = r["core_hours"] / cores
    return out


def night_grid(grid_core_hours: Mapping[str, float], cores: int, hours: float = 10.0, n_h_e: int = 308) -> dict:
    """Per autoencoder kind, how many of the paper's h_e values (10,000 epochs each, at the grid's
    mean cost) one night of ``hours`` on ``cores`` cores trains."""
    return {kind: hours * cores / (total / n_h_e) for kind, total in grid_core_hours.items() if kind != "total"}


def markdown(rows: list[dict], cores: int) -> str:
    lines = ["| stage | measured in this run | to the paper's settings | core-hours | wall time on "
             f"{cores} cores |", "|---|---|---|---|---|"]
    for r in rows:
        wall = f"{r['hours_wall']:,.1f} h" if r["hours_wall"] < 48 else f"{r['hours_wall'] / 24:,.0f} days"
        lines.append(f"| {r['stage']} | {r['measured']} | {r['factor']} | {r['core_hours']:,.1f} | {wall} |")
    total = sum(r["core_hours"] for r in rows)
    lines.append(f"| total | | | {total:,.0f} | {total / cores / 24:,.0f} days |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Estimate the paper profile's cost from the last run.")
    parser.add_argument("--cores", type=int, default=None, help="cores of the measured machine (default: this one's)")
    args = parser.parse_args(argv)
    cores = args.cores or os.cpu_count() or 1
    print(markdown(estimate(cores=cores), cores))
    exp2 = _read(paths.project_root(), "results/experiment2/metrics.json") or {}
    grid = exp2.get("timing", {}).get("paper_grid_core_hours")
    if grid:
        night = night_grid(grid, cores)
        print(f"\nOne night (10 h) on {cores} cores trains, at the paper's 10,000 epochs, this many of the 308 h_e "
              "values per autoencoder kind: " + ", ".join(f"{k} {v:.1f}" for k, v in night.items()))


if __name__ == "__main__":
    main()

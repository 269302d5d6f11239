"""How the linear autoencoder approaches PCA under the paper's protocol (Sec. 4.3.3; issue 15).

The paper reports that "PCA and a linear autoencoder exhibit identical performance for h_e < 200,
PCA becoming superior at higher dimensions", training every autoencoder for 10,000 epochs (Adam,
learning rate 1e-4, batch 512) on 96,000 spectra of 308 features.  A linear autoencoder's optimum
reconstructs through PCA's subspace (its training MSE cannot go below PCA's, and reaches it), so
whether the two look "identical" is a question of training dynamics: how close Adam gets in the
paper's number of steps, at each h_e.  The pipeline's profiles cap the epochs (10 in ``default``);
this module is the separate, resumable long run that answers it.

``python -m pixelsoap.experiments.experiment2.dynamics [--h-e 16 100 250] [--epochs 10000] [--chunk 100]``
trains one linear autoencoder per h_e on Experiment 2's data (the ``spectra`` stage's rows rescaled
by its RobustScaler, the same training and validation rows and the same seed as
:mod:`pixelsoap.experiments.experiment2.compression`, so epoch 10 repeats ``results/experiment2/mse.csv``), with the
profile's learning rate and batch size and no early stopping, and records the validation MSE after
every epoch beside PCA's at the same h_e.  The h_e values take turns, one chunk of epochs each; after
every chunk it writes, atomically,

- ``long-runs/autoencoder-dynamics/dynamics.csv``: h_e, epoch, val_mse, train_loss (the epoch's mean batch loss),
  pca_val_mse, gap = (val_mse - pca_val_mse) / pca_val_mse, seconds (wall seconds of the epoch);
- ``long-runs/autoencoder-dynamics/dynamics.json``: per h_e the epochs reached, the gap at the last epoch, its
  power-law extrapolation, seconds per epoch; the machine; the command that resumes the run; and the
  verdict of the two claims on what was reached (:func:`summarise`).

**Resuming.**  Each h_e keeps its training state in ``long-runs/autoencoder-dynamics/dynamics-state/<key>/``
after every chunk (committed with the outputs, so a clone on another machine resumes the run), and the
training engine its own checkpoint after every epoch inside a chunk, so Ctrl-C or a kill loses at
most the epoch in progress; the same command resumes, and a larger ``--epochs`` later continues
from the saved state (:mod:`pixelsoap.experiments.experiment2.dynamics_training`).  Unlike every other cache of
the project, the saved states are not keyed on the library code (:mod:`pixelsoap.runtime.provenance`): they hold
hours of training at the paper's protocol, which the default run would otherwise redo after any change
of the library (:func:`pixelsoap.experiments.experiment2.dynamics_training.state_key`).  The curves are judged by
:mod:`pixelsoap.experiments.experiment2.dynamics_claims`.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pixelsoap.experiments.experiment2.compression import CompressionData, TrainingConfig, parse_section
from pixelsoap.experiments.experiment2.dynamics_claims import PAPER_EPOCHS, dynamics_table, summarise
from pixelsoap.experiments.experiment2.dynamics_training import HISTORY_COLUMNS, load_state, state_key, train_until
from pixelsoap.experiments.experiment2.pca import fit_pca, pca_table
from pixelsoap.experiments.spectra import load
from pixelsoap.runtime import paths
from pixelsoap.runtime.io import atomic_path, write_json
from pixelsoap.runtime.profiles import load_stage_params, profile_path
from pixelsoap.runtime.progress import tqdm

#: encoding sizes of the default run: both sides of the paper's split at 200 (measured cost, see README)
DEFAULT_H_E = (16, 100, 250)
#: epochs per turn of one h_e (the state and the outputs are saved after each; a turn costs about a second
#: of set-up, data checks and hashing, on top of its epochs)
DEFAULT_CHUNK = 100
#: the outputs' folder, relative to the project root (:func:`output_dir`), and the two files written there:
#: committed inputs of the pipeline (hours of CPU to remake), kept apart from the regenerable ``results/``
OUTPUT_DIR = paths.DYNAMICS_SUMMARY.parent
TABLE = OUTPUT_DIR / "dynamics.csv"
SUMMARY = paths.DYNAMICS_SUMMARY
STATE_DIR = OUTPUT_DIR / "dynamics-state"


# --------------------------------------------------------------------------- the run


def output_dir() -> Path:
    """``long-runs/autoencoder-dynamics`` (:data:`OUTPUT_DIR` under the project root): where dynamics.csv and
    dynamics.json go."""
    return paths.project_root() / OUTPUT_DIR


def cache_root() -> Path:
    """``long-runs/autoencoder-dynamics/dynamics-state`` (:data:`STATE_DIR`): one folder of saved state per h_e.

    Kept beside the outputs, not in the data cache, so that committing it carries the run to another
    machine: the run takes longer than one sitting, and a fresh clone resumes from the committed state
    (a few MB; see :func:`pixelsoap.experiments.experiment2.dynamics_training.state_key` for the folder names).
    """
    return paths.project_root() / STATE_DIR


def machine() -> dict[str, Any]:
    """Cores this process may use, the CPU model, the platform and the process's niceness."""
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cores": cores, "cpu": model or platform.processor() or None, "platform": platform.platform(),
            "nice": os.nice(0) if hasattr(os, "nice") else None}


def write_outputs(table, summary: Mapping[str, Any], folder: str | Path | None = None) -> tuple[Path, Path]:
    """Write dynamics.csv and dynamics.json into ``folder`` (default :func:`output_dir`), each atomically.

    table : :func:`pixelsoap.experiments.experiment2.dynamics_claims.dynamics_table`; summary : JSON-ready mapping
    (:func:`pixelsoap.experiments.experiment2.dynamics_claims.summarise` and the run's metadata)."""
    folder = Path(folder) if folder else output_dir()
    csv = folder / TABLE.name
    with atomic_path(csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.9g")
    return csv, write_json(folder / SUMMARY.name, summary)


def experiment2_check(table, mse_csv: str | Path) -> dict[str, Any]:
    """Our rows beside ``results/experiment2/mse.csv``'s at the same h_e: PCA's validation MSE, and the
    linear autoencoder's at the epoch the pipeline stopped (its best epoch), when both have it."""
    path = Path(mse_csv)
    if not path.is_file():
        return {}
    mse = pd.read_csv(path)
    out = {}
    for h_e, rows in table.groupby("h_e"):
        entry = {}
        pca = mse[(mse["method"] == "pca") & (mse["h_e"] == h_e)]
        if len(pca):
            entry["pca_val_mse"] = {"ours": float(rows["pca_val_mse"].iloc[0]),
                                    "mse_csv": float(pca["val_mse"].iloc[0])}
        lin = mse[(mse["method"] == "linear") & (mse["h_e"] == h_e)]
        if len(lin):
            epoch = int(lin["best_epoch"].iloc[0])
            ours = rows.loc[rows["epoch"] == epoch, "val_mse"]
            entry["linear_val_mse"] = {"epoch": epoch, "ours": float(ours.iloc[0]) if len(ours) else None,
                                       "mse_csv": float(lin["val_mse"].iloc[0])}
        if entry:
            out[str(int(h_e))] = entry
    return out


def run(data, training, h_e: Sequence[int] = DEFAULT_H_E, epochs: int = PAPER_EPOCHS, chunk: int = DEFAULT_CHUNK,
        cache: str | Path | None = None, out: str | Path | None = None, command: str | None = None,
        progress: bool = True, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Train every h_e to ``epochs`` epochs, ``chunk`` at a time in turns, writing the outputs after each chunk.

    data : a :class:`pixelsoap.experiments.experiment2.compression.CompressionData`; training : a
    :class:`pixelsoap.experiments.experiment2.compression.TrainingConfig` (learning rate, batch size, seed).
    ``cache``: the folder
    of saved states (default :func:`cache_root`); ``out``: of the outputs (default :func:`output_dir`).
    Returns the last summary written.
    """
    h_e = sorted({int(h) for h in h_e})
    if not h_e or not all(1 <= h <= data.n_features for h in h_e):
        raise ValueError(f"h_e must be values in 1..{data.n_features}, got {h_e}")
    if not (int(epochs) >= 1 and int(chunk) >= 1):
        raise ValueError(f"epochs and chunk must be >= 1, got {epochs}, {chunk}")
    epochs, chunk = int(epochs), int(chunk)
    cache = Path(cache) if cache else cache_root()
    out = Path(out) if out else output_dir()
    X_train = np.ascontiguousarray(data.X_train, np.float32)
    X_val = np.ascontiguousarray(data.X_val, np.float32)
    fingerprint = data.fingerprint()
    pca_val = {int(r["h_e"]): r["val_mse"] for r in pca_table(fit_pca(X_train), data) if int(r["h_e"]) in h_e}
    folders = {h: cache / state_key(h, training, fingerprint) for h in h_e}
    histories = {}
    for h in h_e:
        saved = load_state(folders[h])
        histories[h] = saved["history"] if saved else {c: [] for c in HISTORY_COLUMNS.values()}
    meta = {"command": command, "machine": machine(), "data": {"fingerprint": fingerprint, "n_train": len(X_train),
                                                                "n_val": len(X_val), "d": data.n_features},
            "protocol": {"learning_rate": training.learning_rate, "batch_size": training.batch_size,
                         "seed": training.seed, "early_stopping": None, "chunk": chunk},
            "state": {str(h): _shown_path(folders[h]) for h in h_e}, **dict(extra or {})}
    mse_csv = out / "mse.csv"

    def write() -> dict[str, Any]:
        table = dynamics_table({h: v for h, v in histories.items() if v["val_mse"]}, pca_val, epochs)
        if table.empty:
            return {}
        summary = {**summarise(table, epochs), **meta, "experiment2_check": experiment2_check(table, mse_csv),
                   "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        write_outputs(table, summary, out)
        return summary

    done = {h: len(histories[h]["val_mse"]) for h in h_e}
    bar = tqdm(total=len(h_e) * epochs, initial=sum(min(n, epochs) for n in done.values()), unit="epoch",
               desc="linear autoencoders", disable=not progress, smoothing=0.05)
    summary = write()
    try:
        while any(done[h] < epochs for h in h_e):
            for h in h_e:
                if done[h] >= epochs:
                    continue
                target = min(epochs, (done[h] // chunk + 1) * chunk)

                def on_epoch(epoch: int, record: dict[str, float], h=h) -> None:
                    bar.update(1)
                    gap = (record["val_mse"] - pca_val[h]) / pca_val[h]
                    bar.set_postfix({"h_e": h, "epoch": epoch, "gap": f"{gap:+.3%}"})

                histories[h] = train_until(X_train, X_val, h, training, folders[h], target, on_epoch)
                done[h] = len(histories[h]["val_mse"])
                bar.n = sum(min(n, epochs) for n in done.values())  # right again after a chunk resumed midway
                bar.refresh()
                summary = write()
    finally:
        bar.close()
    return summary


def _shown_path(folder: Path) -> str:
    """``folder`` relative to the project root when inside it (so a committed summary names no machine's paths)."""
    try:
        return str(Path(folder).resolve().relative_to(paths.project_root().resolve()))
    except ValueError:
        return str(folder)


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt


def _resume_command(argv: Sequence[str]) -> str:
    return " ".join(["python -m pixelsoap.experiments.experiment2.dynamics", *map(shlex.quote, argv)])


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m pixelsoap.experiments.experiment2.dynamics``: see the module's docstring."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description="Validation MSE of the linear autoencoder against epochs under "
                                                 "the paper's protocol, beside PCA's (resumable; issue 15).")
    parser.add_argument("--h-e", type=int, nargs="+", default=list(DEFAULT_H_E), help="encoding sizes")
    parser.add_argument("--epochs", type=int, default=PAPER_EPOCHS, help="epochs per autoencoder (paper: 10,000)")
    parser.add_argument("--chunk", type=int, default=DEFAULT_CHUNK, help="epochs per turn (state saved after each)")
    parser.add_argument("--params", default=None, help="parameter file (default: params/paper.yaml, the paper's "
                                                       "protocol): seed, experiment2.n_train and experiment2.training")
    parser.add_argument("--out", default=None, help="folder of dynamics.csv and dynamics.json (default: "
                                                    f"{OUTPUT_DIR}); a run on other data gets its own")
    parser.add_argument("--state", default=None, help=f"folder of the saved states (default: {STATE_DIR}, or "
                                                      "OUT/dynamics-state with --out)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    params = load_stage_params(args.params or profile_path("paper"), ["experiment2"], "autoencoder dynamics")
    seed = int(params["seed"])
    section = parse_section(params["experiment2"], seed)
    training = TrainingConfig(learning_rate=section["training"].learning_rate,
                              batch_size=section["training"].batch_size, epochs=args.epochs, patience=None, seed=seed)
    data = CompressionData.from_dataset(load(), section["n_train"], seed)
    command = _resume_command(argv)
    signal.signal(signal.SIGTERM, _terminate)  # `kill` stops like Ctrl-C: temporary files removed
    print(f"{len(data.X_train):,} training and {len(data.X_val):,} validation rows, d = {data.n_features}; "
          f"h_e {sorted(set(args.h_e))}, {args.epochs:,} epochs, Adam {training.learning_rate:g}, "
          f"batch {training.batch_size}, seed {seed}; resume with: {command}", flush=True)
    try:
        state = args.state or (Path(args.out) / STATE_DIR.name if args.out else None)
        summary = run(data, training, args.h_e, args.epochs, args.chunk, cache=state, out=args.out, command=command,
                      progress=not args.no_progress)
    except KeyboardInterrupt:
        print(f"\ninterrupted; every finished epoch is kept. Resume with: {command}", file=sys.stderr)
        sys.exit(130)
    claims = summary.get("claims", {})
    for name in ("pca_equals_linear_ae_below_200", "pca_better_above_200"):
        if name in claims:
            print(f"{name}: {claims[name]['verdict']}")


if __name__ == "__main__":
    main()

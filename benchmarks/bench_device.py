"""Benchmark: the training engine's epoch on whatever device JAX finds (a GPU where a session has one).

    PYTHONPATH=lib python3 benchmarks/bench_device.py --out DIR            # on the device machine
    .venv/bin/python benchmarks/bench_device.py --rows 4000 --out /tmp/x  # a quick check here (CPU)

Needs only NumPy, SciPy, Numba, tqdm and JAX (no TensorFlow, Keras, DVC or MNIST), so it runs on
the lent GPU machines as they come, from a copy of the repository.  Measures, on synthetic float32
data, the seconds of one epoch of the engine (training and validation, compilation excluded:
:func:`pixelsoap.training.loop.epoch_seconds`) for the shapes the cost estimates rest on:

1. the classifier 308-256-256-10, dropout 0.1, batch 128 (Experiment 1's and 3's model, a search trial);
2. 24 search-trial classifiers of d 9..792 in ``group_by_shape`` groups, per model;
3. the linear autoencoders of the long run (h_e 16, 100, 250; batch 512, Adam 1e-4), one at a time;
4. a deep autoencoder, h_m = 2, h_e = 100.

From them it derives what the paper's settings cost on this device: the search (168 trials x 300
epochs of the classifier), the long run (10,000 epochs of each of its three autoencoders) and
Experiment 2's linear family (every h_e 1..308, 10,000 epochs, from a fit of the epoch time against
h_e), and the largest Experiment 2 grid one night (10 h) trains there.  Writes ``device-epochs.json``
and ``device-epochs.txt`` into ``--out`` with the device named.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from pixelsoap import published
from pixelsoap.training.loop import epoch_seconds
from pixelsoap.training.spec import TrainSettings, autoencoder_spec, classifier_spec, group_by_shape

#: the paper's protocol (published.yaml): search trials and epochs; autoencoder epochs; descriptor size
PAPER_TRIALS = int(published.value("experiment1.search.n_trials"))
PAPER_SEARCH_EPOCHS = int(published.value("experiment1.search.epochs"))
PAPER_AE_EPOCHS = int(published.value("experiment2.epochs"))
D = 308
LONG_RUN_H_E = (16, 100, 250)
NIGHT_HOURS = 10.0


def synthetic(rows: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, d) float32 features in [0, 1) and (rows,) int32 labels 0..9 of a random linear map."""
    rng = np.random.default_rng(seed)
    X = rng.random((rows, d), dtype=np.float32)
    y = (X @ rng.normal(size=(d, 10)).astype(np.float32)).argmax(axis=1).astype(np.int32)
    return X, y


def device_name() -> str:
    """The JAX default device and the host, in words."""
    import jax

    dev = jax.devices()[0]
    return f"JAX {jax.__version__} on {dev.platform}: {getattr(dev, 'device_kind', dev)}; host {platform.node()}"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=96_000, help="training rows (validation: a quarter more)")
    parser.add_argument("--trial-rows", type=int, default=10_000, help="training rows of each search trial")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per measurement (>= 2; the first compiles)")
    parser.add_argument("--out", required=True, help="folder for device-epochs.json and .txt")
    args = parser.parse_args(argv)
    if args.rows < 512 or args.trial_rows < 128 or args.epochs < 2:
        parser.error("need --rows >= 512, --trial-rows >= 128 and --epochs >= 2")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    lines: list[str] = []

    def emit(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    emit(f"# training engine epochs ({time.strftime('%Y-%m-%d')}; {device_name()})")
    emit(f"# written by benchmarks/bench_device.py; {args.rows:,} training rows unless said; "
         "seconds per epoch (training + validation), compilation excluded")
    val = args.rows // 4
    X, y = synthetic(args.rows + val, D, 0)
    X, y, Xv, yv = X[:args.rows], y[:args.rows], X[args.rows:], y[args.rows:]
    classify = TrainSettings(learning_rate=1e-3, batch_size=128, epochs=args.epochs, monitor="val_accuracy")
    result: dict = {"device": device_name(), "rows": args.rows, "trial_rows": args.trial_rows}

    result["classifier"] = epoch_seconds([classifier_spec(D, (256, 256), 0.1)], X, y, Xv, yv, classify, args.epochs)
    emit(f"1. classifier 308-256-256-10, batch 128: {result['classifier']:.3f} s/epoch")

    sizes = [int(round(d)) for d in np.geomspace(9, 792, 24)]
    trial_val = args.trial_rows // 4
    trial_X = [synthetic(args.trial_rows + trial_val, d, 100 + i)[0] for i, d in enumerate(sizes)]
    trial_y = synthetic(args.trial_rows + trial_val, 9, 99)[1]
    specs = [classifier_spec(d, (256, 256), 0.1) for d in sizes]
    grouped = sum(epoch_seconds([specs[i] for i in g], [trial_X[i][:args.trial_rows] for i in g],
                                trial_y[:args.trial_rows], [trial_X[i][args.trial_rows:] for i in g],
                                trial_y[args.trial_rows:], classify, args.epochs)
                  for g in group_by_shape(specs))
    result["trial_per_model"] = grouped / len(sizes)
    emit(f"2. 24 search trials (d 9..792, {args.trial_rows:,} rows each), grouped: "
         f"{result['trial_per_model']:.4f} s/epoch per model")

    reconstruct = TrainSettings(learning_rate=1e-4, batch_size=512, epochs=args.epochs, monitor="val_loss")
    result["linear_autoencoder"] = {}
    for h_e in LONG_RUN_H_E:
        seconds = epoch_seconds([autoencoder_spec(D, h_e)], X, None, Xv, None, reconstruct, args.epochs)
        result["linear_autoencoder"][str(h_e)] = seconds
        emit(f"3. linear autoencoder h_e {h_e}, batch 512: {seconds:.4f} s/epoch")
    result["deep_autoencoder_h_m_2_h_e_100"] = epoch_seconds([autoencoder_spec(D, 100, 2)], X, None, Xv, None,
                                                             reconstruct, args.epochs)
    emit(f"4. deep autoencoder h_m 2, h_e 100, batch 512: {result['deep_autoencoder_h_m_2_h_e_100']:.4f} s/epoch")

    scale = 96_000 / args.rows  # the estimates are for the paper's 96,000 training rows
    linear = result["linear_autoencoder"]
    slope, intercept = np.polyfit([float(h) for h in LONG_RUN_H_E], [linear[str(h)] for h in LONG_RUN_H_E], 1)
    family = sum(max(intercept + slope * h, min(linear.values())) for h in range(1, D + 1))
    result["estimates_hours"] = {
        "search_168_trials_x_300_epochs": PAPER_TRIALS * PAPER_SEARCH_EPOCHS * result["classifier"] * scale / 3600,
        "long_run_10000_epochs": PAPER_AE_EPOCHS * sum(linear.values()) * scale / 3600,
        "experiment2_linear_family_10000_epochs": PAPER_AE_EPOCHS * family * scale / 3600,
    }
    # the largest grid one night (10 h) trains at the paper's 10,000 epochs: how many h_e values, at the
    # family's mean epoch (linear) or at h_e = 100's (deep h_m = 2, whose cost is mostly its d*h_m layers)
    night = NIGHT_HOURS * 3600 / (PAPER_AE_EPOCHS * scale)
    result["night_h_e_values"] = {"linear": night / (family / D),
                                  "deep_h_m_2": night / result["deep_autoencoder_h_m_2_h_e_100"]}
    emit("estimates at the paper's settings on this device (96,000 rows; linear in rows):")
    for name, hours in result["estimates_hours"].items():
        emit(f"   {name}: {hours:.2f} h")
    emit(f"one night ({NIGHT_HOURS:g} h) trains, at 10,000 epochs, this many of the 308 h_e values: "
         + ", ".join(f"{k} {v:.1f}" for k, v in result["night_h_e_values"].items()))
    result["seconds"] = time.perf_counter() - started
    emit(f"# {result['seconds']:.0f} s in all")
    (out / "device-epochs.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "device-epochs.txt").write_text("\n".join(lines) + "\n")
    return result


if __name__ == "__main__":
    main()

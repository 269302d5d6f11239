"""Benchmark: the grouped JAX training engine beside Keras fit (Keras 3 on JAX), in the same run (on demand).

    make benchmark                                   # everything below, a few minutes on 2 cores
    .venv/bin/python benchmarks/bench_training.py --rows 24000 --trial-rows 4000   # quicker

Measures, on synthetic float32 data (``--rows`` training + rows/4 validation rows),
seconds per epoch excluding compilation (mean of epochs 2..k; the first epoch's
extra time, mostly tracing and compiling, is reported separately):
1. the classifier d=308, hidden (256, 256), dropout 0.1, batch 128: Keras fit
   (pixelsoap.models.classifier.build_classifier) vs the engine alone -> ratio (target >= 4x);
2. 24 search-trial classifiers with d spread geometrically over 9..792, ``--trial-rows``
   training rows each: the engine in ``group_by_shape`` groups, per model, vs one
   model of the mean d alone on the engine (target <= 1.2x) and vs Keras fit per model;
3. 12 linear autoencoders (h_e 1..308) on d=308, batch 512, Adam 1e-4: 12 Keras fits
   (pixelsoap.models.autoencoders.build_autoencoder) vs one engine group (target >= 5x);
4. one deep autoencoder (h_m = 2, h_e = 100): Keras fit vs the engine.
Prints a table and writes it to ``benchmarks/results/training-engine.txt`` with the machine named.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_device import PAPER_SEARCH_EPOCHS as PAPER_EPOCHS
from bench_device import PAPER_TRIALS, synthetic
from bench_soap import machine

from pixelsoap.training.loop import train_group
from pixelsoap.training.spec import TrainSettings, autoencoder_spec, classifier_spec, group_by_shape, padded_cost

RESULTS = Path(__file__).resolve().parent / "results" / "training-engine.txt"
AUTOENCODER_CODES = [1, 2, 4, 8, 16, 32, 64, 100, 150, 200, 250, 308]


def keras_epoch_seconds(model, X, y, Xv, yv, batch_size: int, epochs: int) -> tuple[float, float]:
    """(first epoch s, mean s of epochs 2..epochs) of model.fit with validation."""
    import keras

    times: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    model.fit(X, y, batch_size=batch_size, epochs=epochs, validation_data=(Xv, yv), verbose=0,
              shuffle=True, callbacks=[Timer()])
    return times[0], statistics.mean(times[1:])


def engine_epoch_seconds(specs, X, y, Xv, yv, settings) -> tuple[float, float]:
    """(first epoch s, mean s of epochs 2..k) of one train_group call."""
    result = train_group(specs, X, y, Xv, yv, settings, list(range(len(specs))), progress=False)
    seconds = result[0].history["epoch_seconds"]
    return seconds[0], statistics.mean(seconds[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=96_000)
    parser.add_argument("--trial-rows", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=3, help="engine epochs per measurement (>= 2)")
    parser.add_argument("--keras-epochs", type=int, default=2, help="Keras epochs per measurement (>= 2)")
    args = parser.parse_args()
    import keras

    from pixelsoap.models.autoencoders import build_autoencoder
    from pixelsoap.models.classifier import ClassifierConfig, build_classifier

    lines = [f"# Training engine (JAX, grouped) beside Keras fit ({keras.backend.backend()} backend) "
             f"({time.strftime('%Y-%m-%d')}; {machine()})",
             "# written by benchmarks/bench_training.py; seconds per epoch exclude compilation "
             f"(mean of epochs 2..{args.epochs} engine, 2..{args.keras_epochs} Keras); "
             "'first' = extra seconds of epoch 1 (tracing, compiling)", ""]

    def emit(text=""):
        print(text, flush=True)
        lines.append(text)

    val_rows = args.rows // 4
    X, y = synthetic(args.rows + val_rows, 308, 0)
    X, y, Xv, yv = X[:args.rows], y[:args.rows], X[args.rows:], y[args.rows:]
    settings = TrainSettings(learning_rate=1e-3, batch_size=128, epochs=args.epochs, monitor="val_accuracy")

    spec = classifier_spec(308, (256, 256), 0.1)
    model = build_classifier(308, ClassifierConfig(hidden_units=(256, 256), dropout=0.1))
    keras_first, keras_epoch = keras_epoch_seconds(model, X, y, Xv, yv, 128, args.keras_epochs)
    engine_first, engine_epoch = engine_epoch_seconds([spec], X, y, Xv, yv, settings)
    emit(f"1. classifier 308-256-256-10, dropout 0.1, batch 128, {args.rows:,} + {val_rows:,} rows")
    emit(f"   Keras fit {keras_epoch:.2f} s/epoch (first +{keras_first - keras_epoch:.1f} s)   "
         f"engine {engine_epoch:.2f} s/epoch (first +{engine_first - engine_epoch:.1f} s)   "
         f"ratio {keras_epoch / engine_epoch:.1f}x (target >= 4x)")

    sizes = [int(round(d)) for d in np.geomspace(9, 792, 24)]
    trial_val = args.trial_rows // 4
    trial_X = [synthetic(args.trial_rows + trial_val, d, 100 + i)[0] for i, d in enumerate(sizes)]
    _, trial_y = synthetic(args.trial_rows + trial_val, 9, 99)
    specs = [classifier_spec(d, (256, 256), 0.1) for d in sizes]
    groups = group_by_shape(specs)
    grouped_epoch = grouped_first = 0.0
    for group in groups:
        first, epoch = engine_epoch_seconds([specs[i] for i in group],
                                            [trial_X[i][:args.trial_rows] for i in group], trial_y[:args.trial_rows],
                                            [trial_X[i][args.trial_rows:] for i in group], trial_y[args.trial_rows:],
                                            settings)
        grouped_epoch += epoch
        grouped_first += first - epoch
    mean_d = int(round(statistics.mean(sizes)))
    Xm, _ = synthetic(args.trial_rows + trial_val, mean_d, 98)
    alone_first, alone_epoch = engine_epoch_seconds([classifier_spec(mean_d, (256, 256), 0.1)],
                                                    Xm[:args.trial_rows], trial_y[:args.trial_rows],
                                                    Xm[args.trial_rows:], trial_y[args.trial_rows:], settings)
    keras_total = 0.0
    for i, d in enumerate(sizes):
        model = build_classifier(d, ClassifierConfig(hidden_units=(256, 256), dropout=0.1))
        _, epoch = keras_epoch_seconds(model, trial_X[i][:args.trial_rows], trial_y[:args.trial_rows],
                                       trial_X[i][args.trial_rows:], trial_y[args.trial_rows:], 128, args.keras_epochs)
        keras_total += epoch
        keras.backend.clear_session()
    per_model = grouped_epoch / len(sizes)
    emit("")
    emit(f"2. 24 search-trial classifiers d = {sizes[0]}..{sizes[-1]} (geometric), hidden (256, 256), "
         f"{args.trial_rows:,} + {trial_val:,} rows each; {len(groups)} groups of sizes "
         f"{[len(g) for g in groups]}")
    emit(f"   engine grouped {per_model:.3f} s/epoch per model (compiling {grouped_first:.1f} s in all)   "
         f"one d={mean_d} model alone {alone_epoch:.3f} s/epoch   "
         f"ratio {per_model / alone_epoch:.2f}x (target <= 1.2x)")
    emit(f"   Keras fit {keras_total / len(sizes):.3f} s/epoch per model   "
         f"engine grouped is {keras_total / grouped_epoch:.1f}x faster")
    paper_rows = 96_000
    hours = PAPER_TRIALS * PAPER_EPOCHS * per_model * paper_rows / args.trial_rows / 3600
    keras_hours = PAPER_TRIALS * PAPER_EPOCHS * keras_total / len(sizes) * paper_rows / args.trial_rows / 3600
    emit(f"   the paper's search ({PAPER_TRIALS} trials x {PAPER_EPOCHS} epochs on {paper_rows:,} training rows), "
         f"training scaled linearly in rows: about {hours:.1f} h on this machine with the engine "
         f"({keras_hours:.1f} h with Keras fit), plus SOAP (see soap-engine.txt)")

    ae_settings = TrainSettings(learning_rate=1e-4, batch_size=512, epochs=args.epochs, monitor="val_loss")
    ae_specs = [autoencoder_spec(308, h) for h in AUTOENCODER_CODES]
    keras_total = 0.0
    for h_e in AUTOENCODER_CODES:
        model = build_autoencoder(308, h_e, None, learning_rate=1e-4)[0]
        _, epoch = keras_epoch_seconds(model, X, X, Xv, Xv, 512, args.keras_epochs)
        keras_total += epoch
        keras.backend.clear_session()
    engine_first, engine_epoch = engine_epoch_seconds(ae_specs, X, None, Xv, None, ae_settings)
    ae_groups = group_by_shape(ae_specs)
    split_epoch = sum(engine_epoch_seconds([ae_specs[i] for i in g], X, None, Xv, None, ae_settings)[1]
                      for g in ae_groups)
    emit("")
    emit(f"3. 12 linear autoencoders d=308, h_e {AUTOENCODER_CODES[0]}..{AUTOENCODER_CODES[-1]}, batch 512, "
         f"{args.rows:,} + {val_rows:,} rows")
    emit(f"   12 Keras fits {keras_total:.2f} s/epoch in all   one engine group {engine_epoch:.2f} s/epoch "
         f"(first +{engine_first - engine_epoch:.1f} s)   ratio {keras_total / engine_epoch:.1f}x (target >= 5x)")
    emit(f"   one group pads every model to h_e=308 ({padded_cost(ae_specs) / sum(s.n_params for s in ae_specs):.1f}x "
         f"the true parameters); in the {len(ae_groups)} group_by_shape groups {[len(g) for g in ae_groups]}: "
         f"{split_epoch:.2f} s/epoch, ratio {keras_total / split_epoch:.1f}x")
    deep_first, deep_epoch = engine_epoch_seconds([autoencoder_spec(308, 100, 2)], X, None, Xv, None, ae_settings)
    model = build_autoencoder(308, 100, 2, learning_rate=1e-4)[0]
    _, keras_deep = keras_epoch_seconds(model, X, X, Xv, Xv, 512, args.keras_epochs)
    keras.backend.clear_session()
    emit("")
    emit(f"4. one deep autoencoder d=308, h_m=2, h_e=100, batch 512, {args.rows:,} + {val_rows:,} rows")
    emit(f"   Keras fit {keras_deep:.2f} s/epoch   engine {deep_epoch:.2f} s/epoch "
         f"(first +{deep_first - deep_epoch:.1f} s)   ratio {keras_deep / deep_epoch:.1f}x")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()

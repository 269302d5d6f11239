"""Benchmark: time per epoch and test accuracy of the Fig. 8 classifier per hidden-layer width (run on demand).

    .venv/bin/python benchmarks/bench_classifier.py                       # default widths and epochs
    .venv/bin/python benchmarks/bench_classifier.py --widths 256,256 512,256 512,512,256 --epochs 40

Trains on the default-profile spectra (data/spectra, `dvc repro spectra`) at
the published protocol (Adam 1e-3, batch 128, dropout 0.1) and evaluates the
10,000 test spectra every ``--test-every`` epochs, so one run shows how many
epochs reach the paper's test accuracy (0.6863; target here 0.67).  Prints one
line per evaluation and a summary per configuration.  Writes nothing.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pixelsoap.experiments import spectra
from pixelsoap.models import configure_threads
from pixelsoap.models.classifier import (
    DEFAULT_EPOCHS,
    DEFAULT_HIDDEN_UNITS,
    ClassifierConfig,
    count_parameters,
    predict_labels,
    train_classifier,
)
from pixelsoap.models.metrics import classification_report


def widths(text: str) -> tuple[int, ...]:
    return tuple(int(w) for w in text.split(","))


def test_accuracy_callback(X_test: np.ndarray, y_test: np.ndarray, every: int, rows: list):
    """A Keras callback appending (epoch, seconds so far, val_accuracy, test_accuracy) to ``rows``."""
    import keras

    class TestAccuracy(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.elapsed = 0.0

        def on_epoch_end(self, epoch, logs=None):
            self.elapsed += logs.get("epoch_seconds", np.nan)
            if (epoch + 1) % every == 0:
                acc = float(np.mean(predict_labels(self.model, X_test) == y_test))
                rows.append((epoch + 1, self.elapsed, logs["val_accuracy"], acc))
                print(f"    epoch {epoch + 1:4d}  {self.elapsed:7.1f} s  val {logs['val_accuracy']:.4f}  "
                      f"test {acc:.4f}", flush=True)

    return TestAccuracy()


def run(config: ClassifierConfig, data, target: float, every: int) -> dict:
    """Train one configuration; return its timings and accuracies."""
    X_train, X_val, X_test = data.scaled("train"), data.scaled("val"), data.scaled("test")
    rows: list = []
    start = time.perf_counter()
    model, history = train_classifier(X_train, data.train.y, X_val, data.val.y, config, verbose=0,
                                      callbacks=[test_accuracy_callback(X_test, data.test.y, every, rows)])
    total = time.perf_counter() - start
    report = classification_report(data.test.y, predict_labels(model, X_test))
    reached = next(((e, s) for e, s, _, acc in rows if acc >= target), (None, None))
    seconds = np.asarray(history["epoch_seconds"])
    return {"widths": config.hidden_units, "params": count_parameters(model), "epochs": config.epochs,
            "s_per_epoch": float(np.median(seconds[1:] if len(seconds) > 1 else seconds)),
            "train_s": float(seconds.sum()), "total_s": total,
            "val_accuracy": history["val_accuracy"][-1], "best_val": max(history["val_accuracy"]),
            "test": report, "target_epoch": reached[0], "target_s": reached[1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", nargs="+", type=widths, default=[DEFAULT_HIDDEN_UNITS],
                        help="hidden widths per configuration, e.g. 256,256 512,256 512,512,256")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    parser.add_argument("--test-every", type=int, default=5, help="evaluate the test set every N epochs")
    parser.add_argument("--target", type=float, default=0.67, help="test accuracy to reach")
    parser.add_argument("--threads", type=int, default=None, help="TF intra-op threads (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    configure_threads(args.threads)
    data = spectra.load()
    print(f"train {len(data.train)}, val {len(data.val)}, test {len(data.test)} spectra, "
          f"d = {data.train.X.shape[1]}", flush=True)
    results = []
    for units in args.widths:
        print(f"hidden_units={units}", flush=True)
        config = ClassifierConfig(hidden_units=units, epochs=args.epochs, seed=args.seed)
        results.append(run(config, data, args.target, args.test_every))
    print(f"\n{'widths':>16} {'params':>8} {'s/epoch':>8} {'epochs':>6} {'val acc':>8} {'test acc':>8} "
          f"{'prec':>6} {'F1':>6} {'train s':>8} {'epochs to target':>17} {'s to target':>11}")
    for r in results:
        t = r["test"]
        print(f"{str(r['widths']):>16} {r['params']:>8d} {r['s_per_epoch']:>8.2f} {r['epochs']:>6d} "
              f"{r['val_accuracy']:>8.4f} {t['accuracy']:>8.4f} {t['precision']:>6.4f} {t['f1']:>6.4f} "
              f"{r['train_s']:>8.1f} {str(r['target_epoch']):>17} {r['target_s'] or float('nan'):>11.1f}")


if __name__ == "__main__":
    main()

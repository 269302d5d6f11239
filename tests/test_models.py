"""The Fig. 8 classifier: configuration, structure, seeds, resume after interruption, saving, diagram."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import DATA_FEATURES

from pixelsoap.models import configure_threads
from pixelsoap.models.classifier import (
    ClassifierConfig,
    build_classifier,
    load_model,
    predict_labels,
    predict_proba,
    save_model,
    train_classifier,
)

keras = pytest.importorskip("keras")

N_FEATURES = DATA_FEATURES
SMALL = dict(hidden_units=(16, 8), epochs=2, batch_size=64)


@pytest.fixture(scope="module")
def trained(data):
    X, y, Xv, yv = data
    return train_classifier(X, y, Xv, yv, ClassifierConfig(**SMALL, seed=3), verbose=0)


# --- configuration -------------------------------------------------------------------------------

def test_config_defaults_follow_the_paper():
    cfg = ClassifierConfig()
    assert (cfg.dropout, cfg.learning_rate, cfg.batch_size, cfg.patience) == (0.1, 1e-3, 128, None)
    assert len(cfg.hidden_units) == 2
    assert ClassifierConfig.from_mapping({"hidden_units": [32, 16], "epochs": 5}).hidden_units == (32, 16)
    assert ClassifierConfig.from_mapping(cfg.as_dict()) == cfg


@pytest.mark.parametrize("field, value", [
    ("hidden_units", ()), ("hidden_units", (32, 0)), ("hidden_units", 32), ("hidden_units", (3.5,)),
    ("dropout", 1.0), ("dropout", -0.1), ("learning_rate", 0), ("batch_size", 0), ("epochs", 2.5),
    ("patience", 0), ("seed", -1), ("epochs", True), ("learning_rate", True), ("dropout", "0.1"),
])
def test_config_rejects_bad_values_naming_them(field, value):
    with pytest.raises(ValueError, match=field):
        ClassifierConfig.from_mapping({field: value})


def test_config_rejects_unknown_keys():
    with pytest.raises(ValueError, match="hiden_units"):
        ClassifierConfig.from_mapping({"hiden_units": (8,)})


# --- structure and predictions -------------------------------------------------------------------

def test_layers_follow_fig8():
    model = build_classifier(N_FEATURES, ClassifierConfig(hidden_units=(32, 16)))
    kinds = [(type(layer).__name__, layer.name) for layer in model.layers]
    assert kinds == [("Dense", "hidden_1"), ("Dropout", "dropout_1"), ("Dense", "hidden_2"),
                     ("Dropout", "dropout_2"), ("Dense", "output")]
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [d.units for d in dense] == [32, 16, 10]
    assert [d.activation.__name__ for d in dense] == ["relu", "relu", "softmax"]
    assert all(layer.rate == 0.1 for layer in model.layers if isinstance(layer, keras.layers.Dropout))
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)
    assert "sparse_categorical_crossentropy" in str(model.loss)
    assert model.input_shape == (None, N_FEATURES) and model.output_shape == (None, 10)


@pytest.mark.slow
def test_predictions_are_probabilities(trained, data):
    model, history = trained
    proba = predict_proba(model, data[2])
    assert proba.shape == (len(data[2]), 10) and proba.dtype == np.float32
    assert np.all(proba >= 0) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    labels = predict_labels(model, data[2])
    assert labels.dtype == np.uint8 and np.array_equal(labels, proba.argmax(axis=1))
    assert predict_proba(model, np.zeros((0, N_FEATURES))).shape == (0, 10)
    assert set(history) >= {"loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds"}
    assert all(len(v) == 2 for v in history.values())


def test_training_learns(data):
    X, y, Xv, yv = data
    model, history = train_classifier(X, y, Xv, yv, ClassifierConfig(hidden_units=(32,), epochs=15, batch_size=32),
                                      verbose=0)
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.25  # chance: 0.1


def test_same_seed_same_model_different_seed_different(trained, data):
    X, y, Xv, yv = data
    first = trained[0]
    again, _ = train_classifier(X, y, Xv, yv, ClassifierConfig(**SMALL, seed=3), verbose=0)
    other, _ = train_classifier(X, y, Xv, yv, ClassifierConfig(**SMALL, seed=4), verbose=0)
    for a, b in zip(first.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(predict_proba(first, Xv), predict_proba(again, Xv))
    assert not np.allclose(predict_proba(first, Xv), predict_proba(other, Xv))


def test_training_ignores_other_threads_drawing_from_python_random(trained, data):
    """A Dask worker's event loop draws from Python's `random` while a trial trains."""
    import random
    import threading

    X, y, Xv, yv = data
    stop = threading.Event()

    def chatter():
        while not stop.is_set():
            random.random()

    thread = threading.Thread(target=chatter, daemon=True)
    thread.start()
    try:
        again, _ = train_classifier(X, y, Xv, yv, ClassifierConfig(**SMALL, seed=3), verbose=0)
    finally:
        stop.set()
        thread.join()
    np.testing.assert_array_equal(predict_proba(trained[0], Xv), predict_proba(again, Xv))


@pytest.mark.slow
def test_early_stopping_restores_best_weights(data):
    X, y, Xv, yv = data
    cfg = ClassifierConfig(hidden_units=(8,), epochs=12, batch_size=32, patience=2, learning_rate=0.05)
    model, history = train_classifier(X, y, Xv, yv, cfg, verbose=0)
    assert len(history["val_accuracy"]) <= 12
    acc = float(np.mean(predict_labels(model, Xv) == yv))
    assert acc == pytest.approx(max(history["val_accuracy"]), abs=1e-6)


# --- interruption and resume ---------------------------------------------------------------------

class Interrupt:
    """Raises after epoch ``at`` (0-based) finished and was backed up."""

    def __init__(self, at):
        self.at = at

    def __call__(self, epoch, logs):
        if epoch == self.at:
            raise KeyboardInterrupt(f"simulated interruption after epoch {epoch}")


class EpochRecorder:
    """Records the 0-based epochs that finished and their logs (a Keras-style ``on_epoch_end``)."""

    def __init__(self):
        self.epochs, self.logs = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(epoch)
        self.logs.append(dict(logs))


def test_backup_resumes_after_interruption_with_the_weights_of_an_uninterrupted_run(data, tmp_path):
    X, y, Xv, yv = data
    backup = tmp_path / "backup"
    cfg = ClassifierConfig(**{**SMALL, "epochs": 3}, seed=5)
    first = EpochRecorder()
    with pytest.raises(KeyboardInterrupt):
        train_classifier(X, y, Xv, yv, cfg, backup_dir=backup, verbose=0, callbacks=[first, Interrupt(at=0)])
    assert first.epochs == [0] and any(backup.iterdir())
    second = EpochRecorder()
    model, history = train_classifier(X, y, Xv, yv, cfg, backup_dir=backup, verbose=0, callbacks=[second])
    assert second.epochs == [1, 2]  # the finished epoch is not trained again
    assert len(history["loss"]) == len(history["val_accuracy"]) == 3
    assert history["loss"][0] == first.logs[0]["loss"]
    assert not backup.exists()  # removed once training completed
    straight, straight_history = train_classifier(X, y, Xv, yv, cfg, verbose=0)
    for resumed, uninterrupted in zip(model.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(resumed, uninterrupted)
    assert {k: v for k, v in history.items() if k != "epoch_seconds"} == \
        {k: v for k, v in straight_history.items() if k != "epoch_seconds"}


@pytest.mark.slow
def test_a_backup_of_other_settings_or_data_is_discarded_not_resumed(data, tmp_path):
    """An interrupted run with other widths (or other rows) leaves a backup that does not fit:
    the next run starts afresh instead of failing to load it or resuming someone else's weights."""
    X, y, Xv, yv = data
    backup = tmp_path / "backup"
    wide = ClassifierConfig(**{**SMALL, "hidden_units": (24, 24)}, seed=5)
    with pytest.raises(KeyboardInterrupt):
        train_classifier(X, y, Xv, yv, wide, backup_dir=backup, verbose=0, callbacks=[Interrupt(at=0)])
    assert any(backup.iterdir())
    cfg = ClassifierConfig(**SMALL, seed=5)
    fresh = EpochRecorder()
    _, history = train_classifier(X, y, Xv, yv, cfg, backup_dir=backup, verbose=0, callbacks=[fresh])
    assert fresh.epochs == [0, 1] and len(history["loss"]) == 2 and not backup.exists()
    with pytest.raises(KeyboardInterrupt):                       # same settings, other rows
        train_classifier(X, y, Xv, yv, cfg, backup_dir=backup, verbose=0, callbacks=[Interrupt(at=0)])
    again = EpochRecorder()
    train_classifier(X[::-1], y[::-1], Xv, yv, cfg, backup_dir=backup, verbose=0, callbacks=[again])
    assert again.epochs == [0, 1]


def test_training_is_bit_repeatable_and_stops_early_on_the_best_epoch(data):
    X, y, Xv, yv = data
    cfg = ClassifierConfig(**{**SMALL, "epochs": 6}, seed=2)
    a, history_a = train_classifier(X, y, Xv, yv, cfg, verbose=0)
    b, history_b = train_classifier(X, y, Xv, yv, cfg, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert history_a["val_loss"] == history_b["val_loss"]
    stopped, history = train_classifier(X, y, Xv, yv, ClassifierConfig(**{**SMALL, "epochs": 40}, patience=2, seed=2),
                                        verbose=0)
    val = history["val_accuracy"]
    best = int(np.argmax(val))
    assert len(val) == best + 1 + 2 < 40  # stopped after 2 epochs without a better val_accuracy
    assert float((predict_labels(stopped, Xv) == yv).mean()) == pytest.approx(val[best], abs=1e-6)


# --- saving and threads --------------------------------------------------------------------------

def test_save_and_load_roundtrip(trained, data, tmp_path):
    model = trained[0]
    path = save_model(model, tmp_path / "sub" / "classifier.keras")
    assert sorted(p.name for p in path.parent.iterdir()) == ["classifier.keras"]  # no temporary left
    loaded = load_model(path)
    np.testing.assert_allclose(predict_proba(loaded, data[2]), predict_proba(model, data[2]), atol=1e-7)
    with pytest.raises(ValueError, match=".keras"):
        save_model(model, tmp_path / "classifier.h5")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.keras")


@pytest.mark.slow
def test_a_model_saved_before_training_loads_without_optimizer_warnings(data, tmp_path):
    """Keras warned "Skipping variable loading for optimizer" when loading a model whose optimizer had
    never stepped (every model built by to_keras): save_model builds the optimizer's variables first."""
    import warnings

    model = build_classifier(data[0].shape[1], ClassifierConfig(hidden_units=(8,), seed=0))
    path = save_model(model, tmp_path / "untrained.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = load_model(path)
    np.testing.assert_allclose(predict_proba(loaded, data[2]), predict_proba(model, data[2]), atol=1e-7)


@pytest.mark.slow
def test_saved_models_are_byte_identical_for_identical_weights(trained, data, tmp_path):
    """Keras stamps the time and Python object ids (other in every process) into .keras files; the
    caches hash them, so the same model saved at another second must give the same bytes."""
    import zipfile

    model = trained[0]
    first = save_model(model, tmp_path / "a.keras").read_bytes()
    time.sleep(1.1)                                  # date_saved has one-second resolution
    assert save_model(model, tmp_path / "b.keras").read_bytes() == first
    config = zipfile.ZipFile(tmp_path / "b.keras").read("config.json").decode()
    assert str(id(model.optimizer)) not in config and '"shared_object_id": 0' in config   # numbered, not ids
    loaded = load_model(tmp_path / "b.keras")
    np.testing.assert_allclose(predict_proba(loaded, data[2]), predict_proba(model, data[2]), atol=1e-7)


@pytest.mark.slow
def test_configure_threads_in_a_fresh_process_then_a_model_runs_on_jax():
    code = ("import os, sys; from pixelsoap.models import configure_threads, build_classifier, ClassifierConfig; "
            "assert configure_threads(1); build_classifier(5, ClassifierConfig(hidden_units=(4,))); import keras; "
            "print(keras.backend.backend(), 'tensorflow' in sys.modules, os.environ['XLA_FLAGS'])")
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "XLA_FLAGS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    backend, tensorflow_loaded, *flags = out.stdout.split()
    assert (backend, tensorflow_loaded) == ("jax", "False")
    assert "intra_op_parallelism_threads=1" in flags and "--xla_cpu_multi_thread_eigen=false" in flags
    assert configure_threads(None) is True
    with pytest.raises(ValueError, match="thread"):
        configure_threads(0)


# --- diagrams ------------------------------------------------------------------------------------

def test_model_diagram_draws_one_box_per_layer(trained):
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch

    import pixelsoap.plots  # noqa: F401  (Agg backend)
    from pixelsoap.plots.models import layer_rows, model_diagram

    model = trained[0]
    rows = layer_rows(model)
    assert [r["name"] for r in rows][1:] == [layer.name for layer in model.layers]
    assert rows[0]["kind"] == "InputLayer" and sum(r["params"] for r in rows) == model.count_params()
    fig = model_diagram(model, "Fig. 8")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    assert len(boxes) == len(model.layers) + 1
    texts = " | ".join(t.get_text() for t in ax.texts)
    for layer in model.layers:
        assert f"{layer.name} ({type(layer).__name__})" in texts
    assert "16 units, relu" in texts and "rate 0.1" in texts and "10 units, softmax" in texts
    assert f"total parameters: {model.count_params():,}" in texts
    assert ax.get_title() == "Fig. 8"


def test_model_diagram_handles_functional_models():
    import pixelsoap.plots  # noqa: F401
    from pixelsoap.plots.models import layer_rows, model_diagram

    inputs = keras.Input(shape=(12,), name="x")
    code = keras.layers.Dense(3, name="encoder")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(12, name="decoder")(code), name="linear_ae")
    rows = layer_rows(model)
    assert [r["name"] for r in rows] == ["x", "encoder", "decoder"]
    assert rows[1]["shape"] == "(None, 3)" and rows[2]["params"] == 3 * 12 + 12
    assert model_diagram(model).axes[0].get_title() == "linear_ae"


def test_training_history_figure():
    import pixelsoap.plots  # noqa: F401
    from pixelsoap.plots.models import training_history_figure

    hist = {"loss": [2.0, 1.5], "val_loss": [2.1, 1.7], "accuracy": [0.3, 0.5], "val_accuracy": [0.3, 0.4]}
    fig = training_history_figure(hist)
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]
    assert fig.axes[0].get_xlabel() == "epoch"

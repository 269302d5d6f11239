"""The grouped JAX training engine: Keras equivalence, padding, determinism, resume, early stopping, export."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA_FEATURES, DATA_ROWS, DATA_VAL_ROWS

pytest.importorskip("jax")

from pixelsoap.models.classifier import to_keras
from pixelsoap.training import checkpoint as training_checkpoint
from pixelsoap.training import configure_threads
from pixelsoap.training.loop import train_group
from pixelsoap.training.spec import (
    MLPSpec,
    TrainSettings,
    autoencoder_spec,
    classifier_spec,
    epoch_order,
    forward,
    group_by_shape,
    init_weights,
    padded_cost,
    set_keras_weights,
)

ROWS, VAL_ROWS, D = DATA_ROWS, DATA_VAL_ROWS, DATA_FEATURES   # the shared ``data`` fixture's shape
SMALL_HIDDEN = (16, 8)


def _keras_replay(model, spec, seed, X, y, settings):
    """Train a Keras model with train_on_batch over exactly the engine's batch order."""
    for epoch in range(settings.epochs):
        order = epoch_order(seed, epoch, len(X))
        for start in range(0, len(X), settings.batch_size):
            rows = order[start:start + settings.batch_size]
            model.train_on_batch(X[rows], X[rows] if y is None else y[rows])
    return model.get_weights()


def _assert_weights_close(ours, theirs, atol):
    assert [w.shape for w in ours] == [w.shape for w in theirs]
    if os.environ.get("PIXELSOAP_REPORT_DIFF"):
        print(f"max |difference| {max(float(np.abs(a - b).max()) for a, b in zip(ours, theirs)):.3g} (atol {atol:.3g})")
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=0, atol=atol)


# Tolerance against Keras: both sides are float32 with the same formulas, but Keras's ops
# and the engine's fused program sum matmuls and reductions in different orders (~1 ulp per operation).  The
# weights here are below 1 in magnitude (float32 spacing <= 6e-8 there); over the 24
# steps of these runs the differences stay at a few ulps (3e-8 measured on x86-64).
# 5e-7 (~8 ulps of a weight of 0.5) leaves room for other CPUs' blockings while a wrong
# formula (another init, a dropped partial batch, Adam's bias correction) moves weights
# by about one step, lr = 1e-4..1e-3, i.e. hundreds of times more.
KERAS_ATOL = 5e-7


@pytest.mark.slow
def test_classifier_matches_keras_train_on_batch(data):
    keras = pytest.importorskip("keras")
    from pixelsoap.models.classifier import ClassifierConfig, build_classifier

    X, y, Xv, yv = data
    spec = classifier_spec(D, SMALL_HIDDEN, dropout=0.0)
    settings = TrainSettings(learning_rate=1e-3, batch_size=128, epochs=3, monitor="val_accuracy")
    [result] = train_group([spec], X, y, Xv, yv, settings, seeds=[7], progress=False)
    model = build_classifier(D, ClassifierConfig(hidden_units=SMALL_HIDDEN, dropout=0.0))
    set_keras_weights(model, init_weights(spec, 7))
    theirs = _keras_replay(model, spec, 7, X, y, settings)
    _assert_weights_close(result.weights, theirs, KERAS_ATOL)
    moved = max(np.abs(a - b).max() for a, b in zip(result.weights, init_weights(spec, 7)))
    assert moved > 10 * settings.learning_rate          # the comparison is not trivially of untrained weights
    val_loss, val_accuracy = model.evaluate(Xv, yv, verbose=0)
    assert result.history["val_loss"][-1] == pytest.approx(val_loss, rel=1e-4)
    assert result.history["val_accuracy"][-1] == pytest.approx(val_accuracy, abs=1.5 / VAL_ROWS)
    assert keras.backend.backend() == "jax"


@pytest.mark.slow
@pytest.mark.parametrize("h_m", [None, 2])
def test_autoencoder_matches_keras_train_on_batch(data, h_m):
    pytest.importorskip("keras")
    from pixelsoap.models.autoencoders import build_autoencoder

    X, _, Xv, _ = data
    spec = autoencoder_spec(D, 3, h_m)
    settings = TrainSettings(learning_rate=1e-4, batch_size=512, epochs=3, monitor="val_loss")
    [result] = train_group([spec], X, None, Xv, None, settings, seeds=[11], progress=False)
    model = set_keras_weights(build_autoencoder(D, 3, h_m)[0], init_weights(spec, 11))
    theirs = _keras_replay(model, spec, 11, X, None, settings)
    _assert_weights_close(result.weights, theirs, KERAS_ATOL)
    assert result.history["val_loss"][-1] == pytest.approx(model.evaluate(Xv, Xv, verbose=0), rel=1e-4)


# --- grouping and padding ------------------------------------------------------------------------

GROUP = [classifier_spec(20, (16, 8), 0.2), classifier_spec(12, (12, 8), 0.2), classifier_spec(5, (16, 6), 0.2)]
GROUP_SEEDS = [3, 4, 5]
GROUP_SETTINGS = TrainSettings(learning_rate=1e-3, batch_size=128, epochs=3, monitor="val_accuracy")


def _group_inputs(data):
    X, y, Xv, yv = data
    return [X[:, :s.widths[0]] for s in GROUP], y, [Xv[:, :s.widths[0]] for s in GROUP], yv


@pytest.mark.slow
def test_grouped_training_matches_training_alone_and_keeps_padding_zero(data, tmp_path):
    X, y, Xv, yv = _group_inputs(data)
    padded_nonzero = []

    def inspect_checkpoint(epochs_done, histories):
        with np.load(tmp_path / "ckpt" / training_checkpoint.CHECKPOINT_FILE) as stored:
            arrays = [stored[f"array_{i}"] for i in range(json.loads(str(stored["meta"]))["n_arrays"])]
        n_leaves = 2 * (len(GROUP[0].widths) - 1)
        for copy in range(3):                              # params, Adam m, Adam v
            for leaf_index, leaf in enumerate(arrays[copy * n_leaves:(copy + 1) * n_leaves]):
                layer, is_bias = divmod(leaf_index, 2)
                for m, spec in enumerate(GROUP):
                    true = leaf[m].copy()
                    if is_bias:
                        true[:spec.widths[layer + 1]] = 0
                    else:
                        true[:spec.widths[layer], :spec.widths[layer + 1]] = 0
                    padded_nonzero.append(np.count_nonzero(true))

    together = train_group(GROUP, X, y, Xv, yv, GROUP_SETTINGS, GROUP_SEEDS, progress=False,
                           checkpoint_dir=tmp_path / "ckpt", on_epoch_end=inspect_checkpoint)
    assert padded_nonzero and sum(padded_nonzero) == 0      # padded weights and moments stay exactly 0.0
    for m, spec in enumerate(GROUP):
        [alone] = train_group([spec], X[m], y, Xv[m], yv, GROUP_SETTINGS, [GROUP_SEEDS[m]], progress=False)
        # Same data, seeds, batch order and dropout masks (drawn per unit, independent of the
        # padded width); only float32 summation order differs (the padded matmuls add exact
        # zeros in other blockings): ~1 ulp per operation, a few ulps of weights below 1 after
        # 24 steps (3e-8 measured); 5e-7 is ~8 ulps, far below one Adam step (lr = 1e-3).
        _assert_weights_close(together[m].weights, alone.weights, atol=KERAS_ATOL)
        np.testing.assert_allclose(together[m].history["val_loss"], alone.history["val_loss"], rtol=1e-5)
        assert [w.shape for w in alone.weights] == [w.shape for w in init_weights(spec, 0)]


def test_initial_weights_follow_true_fan_in_and_out():
    spec = MLPSpec((300, 200, 10), ("relu", "softmax"), 0.0, "sparse_categorical_crossentropy")
    weights = init_weights(spec, 1)
    for kernel, bias, (fan_in, fan_out) in zip(weights[::2], weights[1::2], [(300, 200), (200, 10)]):
        limit = np.sqrt(6 / (fan_in + fan_out))
        assert kernel.dtype == np.float32 and np.abs(kernel).max() <= limit
        assert np.abs(kernel).max() > 0.98 * limit
        assert kernel.std() == pytest.approx(limit / np.sqrt(3), rel=0.05)
        assert not bias.any()
    # a model's init depends on its spec and seed, not on the rest of its group
    np.testing.assert_array_equal(init_weights(spec, 1)[0], weights[0])
    assert not np.array_equal(init_weights(spec, 2)[0], weights[0])


def test_two_runs_are_bit_identical(data):
    X, y, Xv, yv = _group_inputs(data)
    first = train_group(GROUP, X, y, Xv, yv, GROUP_SETTINGS, GROUP_SEEDS, progress=False)
    second = train_group(GROUP, X, y, Xv, yv, GROUP_SETTINGS, GROUP_SEEDS, progress=False)
    for a, b in zip(first, second):
        for wa, wb in zip(a.weights, b.weights):
            np.testing.assert_array_equal(wa, wb)
        assert {k: v for k, v in a.history.items() if k != "epoch_seconds"} == \
               {k: v for k, v in b.history.items() if k != "epoch_seconds"}


@pytest.mark.slow
def test_resume_after_interruption_is_bit_identical(data, tmp_path, caplog):
    X, y, Xv, yv = data
    specs = [classifier_spec(D, SMALL_HIDDEN, 0.1), classifier_spec(D, (12, 8), 0.1)]
    settings = TrainSettings(learning_rate=1e-2, batch_size=128, epochs=5, patience=1, monitor="val_loss")
    straight = train_group(specs, X, y, Xv, yv, settings, [1, 2], progress=False)

    def interrupt(epochs_done, histories):
        if epochs_done == 2:
            raise KeyboardInterrupt

    folder = tmp_path / "ckpt"
    with pytest.raises(KeyboardInterrupt):
        train_group(specs, X, y, Xv, yv, settings, [1, 2], progress=False, checkpoint_dir=folder,
                    on_epoch_end=interrupt)
    assert (folder / training_checkpoint.CHECKPOINT_FILE).exists()
    seen = []
    resumed = train_group(specs, X, y, Xv, yv, settings, [1, 2], progress=False, checkpoint_dir=folder,
                          on_epoch_end=lambda done, histories: seen.append(done))
    assert seen and seen[0] == 3                       # resumed after the last finished epoch
    assert not folder.exists()                         # removed once training completed
    for a, b in zip(straight, resumed):
        for wa, wb in zip(a.weights, b.weights):
            np.testing.assert_array_equal(wa, wb)
        assert (a.epochs, a.best_epoch) == (b.epochs, b.best_epoch)
        for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
            assert a.history[key] == b.history[key]

    # a checkpoint of another run (other seeds) is discarded with a warning, not resumed
    with pytest.raises(KeyboardInterrupt):
        train_group(specs, X, y, Xv, yv, settings, [1, 2], progress=False, checkpoint_dir=folder,
                    on_epoch_end=interrupt)
    seen.clear()
    train_group(specs, X, y, Xv, yv, settings, [5, 6], progress=False, checkpoint_dir=folder,
                on_epoch_end=lambda done, histories: seen.append(done))
    assert seen[0] == 1 and "another run" in caplog.text


@pytest.mark.slow
def test_early_stopping_restores_the_best_epoch(data):
    X, y, Xv, yv = data
    specs = [classifier_spec(D, (32, 32), 0.0)] * 3
    settings = TrainSettings(learning_rate=3e-2, batch_size=64, epochs=15, patience=2, monitor="val_loss")
    results = train_group(specs, X, y, Xv, yv, settings, [0, 1, 2], progress=False)
    assert any(r.epochs < settings.epochs for r in results), "no model stopped early: make the test harder"
    for result, spec in zip(results, specs):
        val_loss = result.history["val_loss"]
        assert result.best_epoch == int(np.argmin(val_loss)) + 1
        if result.epochs < settings.epochs:           # Keras: stop once `patience` epochs did not improve
            assert result.epochs == result.best_epoch + settings.patience
        probabilities = forward(spec, result.weights, Xv).astype(np.float64)
        loss = -np.mean(np.log(probabilities[np.arange(len(yv)), yv]))
        accuracy = np.mean(probabilities.argmax(axis=1) == yv)
        assert loss == pytest.approx(val_loss[result.best_epoch - 1], rel=1e-4)
        assert accuracy == pytest.approx(result.history["val_accuracy"][result.best_epoch - 1], abs=1.5 / VAL_ROWS)


# --- errors -------------------------------------------------------------------------------------

def test_bad_input_is_refused_naming_the_value(data):
    X, y, Xv, yv = data
    settings = TrainSettings(epochs=1)
    spec = classifier_spec(D, SMALL_HIDDEN, 0.1)
    with pytest.raises(ValueError, match="share layer count"):
        train_group([spec, classifier_spec(D, SMALL_HIDDEN, 0.2)], X, y, Xv, yv, settings, progress=False)
    with pytest.raises(ValueError, match="has 20 columns, model 0 needs 7"):
        train_group([classifier_spec(7, SMALL_HIDDEN)], X, y, Xv, yv, settings, progress=False)
    bad = X.copy()
    bad[5, 3] = np.nan
    with pytest.raises(ValueError, match="non-finite.*row 5, column 3"):
        train_group([spec], bad, y, Xv, yv, settings, progress=False)
    with pytest.raises(ValueError, match="labels must be in 0..9"):
        train_group([spec], X, y + 1, Xv, yv, settings, progress=False)
    with pytest.raises(ValueError, match="share a positive row count"):
        train_group([spec, spec], [X, X[:10]], y, Xv, yv, settings, progress=False)
    with pytest.raises(ValueError, match="monitor 'val_accuracy' needs classifiers"):
        train_group([autoencoder_spec(D, 2)], X, None, Xv, None, TrainSettings(monitor="val_accuracy"))
    with pytest.raises(ValueError, match=r"seeds must be 1 ints.*-1"):
        train_group([spec], X, y, Xv, yv, settings, seeds=[-1], progress=False)
    for field, value in [("learning_rate", -1.0), ("batch_size", 0), ("epochs", 1.5), ("patience", -2),
                         ("monitor", "acc"), ("seed", 2**32)]:
        with pytest.raises(ValueError, match=f"{field}.*{re.escape(repr(value))}"):
            TrainSettings(**{field: value})
    with pytest.raises(ValueError, match="'tanh'"):
        MLPSpec((4, 2), ("tanh",), 0.0, "mse")
    with pytest.raises(ValueError, match="1.0"):
        MLPSpec((4, 2), ("linear",), 1.0, "mse")
    with pytest.raises(ValueError, match="needs a softmax output"):
        MLPSpec((4, 2), ("linear",), 0.0, "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"widths.*\(4, 0\)"):
        MLPSpec((4, 0), ("linear",), 0.0, "mse")


# --- grouping plan ------------------------------------------------------------------------------

def test_group_by_shape_bounds_the_padding_waste():
    sizes = np.unique(np.geomspace(9, 792, 24).astype(int))
    specs = [classifier_spec(int(d)) for d in sizes] + [autoencoder_spec(30, h) for h in (1, 2, 30)]
    groups = group_by_shape(specs, max_waste=1.25, max_state_bytes=None)
    assert sorted(i for g in groups for i in g) == list(range(len(specs)))
    for group in groups:
        members = [specs[i] for i in group]
        assert len({s.structure for s in members}) == 1
        assert padded_cost(members) <= 1.25 * sum(s.n_params for s in members)
    assert len(groups) < len(specs) - 3                # the small classifiers do share groups
    assert all(len(g) <= 2 for g in group_by_shape(specs, max_models=2))


def test_group_by_shape_caps_the_training_state_of_a_group():
    # 308-256-256-10: 308 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10 = 147,466 parameters, 16 bytes each
    big = classifier_spec(308)
    assert big.n_params == 147_466
    cap = 2 * 147_466 * 16                        # room for two of them, not three
    groups = group_by_shape([big] * 5, max_state_bytes=cap)
    assert [len(g) for g in groups] == [2, 2, 1]
    assert [len(g) for g in group_by_shape([big] * 5, max_state_bytes=None)] == [5]
    assert [len(g) for g in group_by_shape([big] * 2, max_state_bytes=1)] == [1, 1]   # too big: alone
    with pytest.raises(ValueError, match="max_state_bytes.*0"):
        group_by_shape([big], max_state_bytes=0)


# --- export -------------------------------------------------------------------------------------

@pytest.mark.slow
def test_saved_keras_model_predicts_what_forward_predicts(data, tmp_path):
    keras = pytest.importorskip("keras")
    X, y, Xv, yv = data
    spec = classifier_spec(D, SMALL_HIDDEN, 0.1)
    [result] = train_group([spec], X, y, Xv, yv, TrainSettings(epochs=2, monitor="val_accuracy"), [4],
                           progress=False)
    model = to_keras(spec, result.weights)
    assert [layer.name for layer in model.layers] == ["hidden_1", "dropout_1", "hidden_2", "dropout_2", "output"]
    keras.saving.save_model(model, tmp_path / "model.keras")
    np.save(tmp_path / "X.npy", Xv)
    script = ("import sys, numpy as np, keras; m = keras.saving.load_model(sys.argv[1]); "
              "np.save(sys.argv[3], m.predict(np.load(sys.argv[2]), verbose=0)); print(keras.backend.backend())")
    # another backend than the one that saved it (Keras's NumPy backend: inference only) loads and runs the file
    env = dict(os.environ, KERAS_BACKEND="numpy")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "model.keras"), str(tmp_path / "X.npy"),
                           str(tmp_path / "P.npy")], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "numpy"
    np.testing.assert_allclose(np.load(tmp_path / "P.npy"), forward(spec, result.weights, Xv), rtol=1e-5, atol=1e-7)

    deep = autoencoder_spec(D, 3, 2)
    model = to_keras(deep, init_weights(deep, 0))
    assert [layer.name for layer in model.layers[1:]] == ["encoder_hidden", "code", "decoder_hidden", "reconstruction"]
    np.testing.assert_allclose(model.predict(Xv, verbose=0), forward(deep, init_weights(deep, 0), Xv),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"\(20, 40\)"):
        set_keras_weights(model, init_weights(autoencoder_spec(D, 3), 0))


@pytest.mark.slow
def test_importing_does_not_start_jax_and_threads_are_configurable():
    code = ("import sys, os, pixelsoap.training as t; assert 'jax' not in sys.modules; "
            "assert t.configure_threads(1); print(os.environ['XLA_FLAGS']); import jax; "
            "assert not t.configure_threads(2)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if k != "XLA_FLAGS"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "intra_op_parallelism_threads=1" in done.stdout
    with pytest.raises(ValueError, match="0"):
        configure_threads(0)
    assert Path(training_checkpoint.__file__).name == "checkpoint.py"


def test_restored_seconds_are_those_of_the_epochs_not_trained_again():
    from pixelsoap.training.loop import TrainResult, _restored_seconds

    def result(seconds):
        return TrainResult(weights=[], history={"epoch_seconds": seconds}, epochs=len(seconds), best_epoch=1)

    group = [result([1.0, 2.0, 4.0, 8.0]), result([1.0, 2.0])]    # the second model stopped early
    assert _restored_seconds(group, 1) == 7.0                      # the last epoch was trained now
    assert _restored_seconds(group, 0) == 15.0 and _restored_seconds(group, 4) == 0.0


@pytest.mark.slow
def test_an_interrupted_family_keeps_the_groups_it_finished(data, tmp_path, monkeypatch):
    """train_in_groups: after an interruption in group 2, a rerun restores group 1 and trains no epoch of it."""
    from pixelsoap.training import loop as training_loop

    X, y, Xv, yv = data
    specs = [classifier_spec(D, SMALL_HIDDEN, 0.1), classifier_spec(D, (12, 8), 0.1), classifier_spec(D, (9,), 0.1)]
    settings = TrainSettings(learning_rate=1e-2, batch_size=128, epochs=3, patience=None, monitor="val_loss")
    groups = [[0, 1], [2]]
    straight = training_loop.train_in_groups(specs, X, y, Xv, yv, settings, [1, 2, 3], groups=groups)
    real = training_loop.train_group
    trained = []                                          # epochs trained per train_group call

    def counting(group_specs, *args, on_epoch_end=None, **kwargs):
        trained.append(0)

        def count(done, histories):
            trained[-1] += 1
            return on_epoch_end(done, histories) if on_epoch_end else None
        return real(group_specs, *args, on_epoch_end=count, **kwargs)

    def interrupting(group_specs, *args, **kwargs):
        if len(trained) == 1:
            raise KeyboardInterrupt
        return counting(group_specs, *args, **kwargs)

    folder = tmp_path / "family"
    monkeypatch.setattr(training_loop, "train_group", interrupting)
    with pytest.raises(KeyboardInterrupt):
        training_loop.train_in_groups(specs, X, y, Xv, yv, settings, [1, 2, 3], groups=groups, checkpoint_dir=folder)
    assert trained == [3] and any((folder / "group-0").glob("*.npz"))
    # say group 0's epochs took 100 s each: its restored results must count them
    with np.load(folder / "group-0" / training_checkpoint.CHECKPOINT_FILE) as stored:
        meta = json.loads(str(stored["meta"]))
        arrays = [stored[f"array_{i}"] for i in range(meta["n_arrays"])]
    for history in meta["state"]["histories"]:
        history["epoch_seconds"] = [100.0] * len(history["epoch_seconds"])
    training_checkpoint.save(folder / "group-0", meta["key"], arrays, meta["state"])
    trained.clear()
    monkeypatch.setattr(training_loop, "train_group", counting)
    resumed = training_loop.train_in_groups(specs, X, y, Xv, yv, settings, [1, 2, 3], groups=groups,
                                            checkpoint_dir=folder)
    assert trained == [0, 3]                              # group 0 restored, not trained again
    assert not any(folder.rglob("*.npz"))                 # the family is done: nothing left behind
    for (a, _, size_a), (b, _, size_b) in zip(straight, resumed):
        assert size_a == size_b and (a.epochs, a.best_epoch) == (b.epochs, b.best_epoch)
        for wa, wb in zip(a.weights, b.weights):
            np.testing.assert_array_equal(wa, wb)
        assert a.history["val_loss"] == b.history["val_loss"]
    assert resumed[0][1] + resumed[1][1] >= 300.0         # group 0's restored epochs are counted
    assert resumed[2][1] < 300.0
    # other seeds are another run: the kept state is not taken for them
    trained.clear()
    monkeypatch.setattr(training_loop, "train_group", interrupting)
    with pytest.raises(KeyboardInterrupt):
        training_loop.train_in_groups(specs, X, y, Xv, yv, settings, [1, 2, 3], groups=groups, checkpoint_dir=folder)
    trained.clear()
    monkeypatch.setattr(training_loop, "train_group", counting)
    training_loop.train_in_groups(specs, X, y, Xv, yv, settings, [4, 5, 6], groups=groups, checkpoint_dir=folder)
    assert trained == [3, 3]


_TRAIN_ONCE = """
import hashlib, sys
import numpy as np
from pixelsoap.training.loop import train_group
from pixelsoap.training.spec import TrainSettings, classifier_spec
rng = np.random.default_rng(3)
X, y = rng.normal(size=(300, 12)).astype(np.float32), rng.integers(0, 10, 300).astype(np.int32)
settings = TrainSettings(learning_rate=1e-3, batch_size=64, epochs=2, monitor="val_accuracy")
[result] = train_group([classifier_spec(12, (16, 8), 0.1)], X[:240], y[:240], X[240:], y[240:], settings,
                       seeds=[5], progress=False)
print(hashlib.sha256(b"".join(np.ascontiguousarray(w).tobytes() for w in result.weights)).hexdigest())
"""


@pytest.mark.slow
def test_a_program_loaded_from_the_compilation_cache_trains_what_a_fresh_compilation_trains(tmp_path):
    """import_jax's persistent cache: the first process compiles and fills it, the second loads from it."""
    env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "jax")}

    def weights_digest() -> str:
        done = subprocess.run([sys.executable, "-c", _TRAIN_ONCE], capture_output=True, text=True, timeout=300,
                              env=env)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.split()[-1]

    compiled = weights_digest()
    entries = sorted(p.name for p in (tmp_path / "jax").iterdir())
    assert entries                                       # the programs were stored ...
    assert weights_digest() == compiled                  # ... and loaded ones train the same weights, bit for bit
    assert sorted(p.name for p in (tmp_path / "jax").iterdir()) == entries   # nothing compiled anew


def test_the_compilation_cache_lies_in_the_user_cache_unless_jax_is_told_otherwise():
    code = ("import pixelsoap.runtime.dask as r, pixelsoap.runtime.paths as p; jax = r.import_jax(); "
            "print(jax.config.jax_compilation_cache_dir == str(p.user_cache_dir() / 'jax'))")
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0 and done.stdout.split()[-1] == "True", done.stderr[-2000:]

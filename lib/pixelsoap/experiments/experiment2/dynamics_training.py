"""One linear autoencoder of the long run (:mod:`pixelsoap.experiments.experiment2.dynamics`), trained in resumable
chunks.

Each h_e keeps its training state (weights, Adam's moments and step count, epochs done) in
``long-runs/autoencoder-dynamics/dynamics-state/<key>/`` (:func:`state_key`, :data:`STATE_FILE`) after every chunk
(:func:`train_until`), and the training engine keeps its own checkpoint after every epoch inside a
chunk, so Ctrl-C or a kill loses at most the epoch in progress; the same command resumes.  A chunk
continues exactly where the last one stopped: ``N`` epochs then ``M`` more give the weights of ``N + M``
epochs in one call (batch order and Adam steps depend on the seed and the absolute epoch only; a test
checks it bit for bit).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pixelsoap.models.autoencoders import training_settings
from pixelsoap.runtime.cache import UNREADABLE, digest, set_aside
from pixelsoap.runtime.io import atomic_path
from pixelsoap.training import checkpoint
from pixelsoap.training.loop import train_group
from pixelsoap.training.spec import autoencoder_spec

#: bump when the meaning of a saved state changes (it is part of :func:`state_key`)
FORMAT_VERSION = 1
STATE_FILE = "state.npz"
#: history keys of the training engine -> our column names (per-epoch lists of the saved state)
HISTORY_COLUMNS = {"val_loss": "val_mse", "loss": "train_loss", "epoch_seconds": "seconds"}


def _settings(training, epochs: int):
    """The engine's TrainSettings for ``training`` (a
    :class:`pixelsoap.experiments.experiment2.compression.TrainingConfig`) run to
    ``epochs`` epochs in total, without early stopping."""
    return training_settings(dataclasses.replace(training, epochs=int(epochs), patience=None))


def state_key(h_e: int, training, fingerprint: str) -> str:
    """Folder name of one autoencoder's saved state: a hash of h_e, the protocol (epochs aside) and the data.

    The one cache key of the project without the library code's digest (``code=False``, see
    :mod:`pixelsoap.runtime.provenance`): the saved states are committed under
    ``long-runs/autoencoder-dynamics/dynamics-state`` and hold hours of training at the paper's
    protocol, which a key on the code would throw away at every change of the library, so the default
    run would retrain them for hours.  What a change of the training's meaning needs is
    :data:`FORMAT_VERSION`, bumped by hand as before.  The engine's own
    checkpoint inside a chunk (``<state>/engine``) does follow the code: a change loses at most a chunk.
    """
    return digest("linear-dynamics", {"format": FORMAT_VERSION, "h_e": int(h_e), "data": fingerprint,
                                      "learning_rate": float(training.learning_rate),
                                      "batch_size": int(training.batch_size), "seed": int(training.seed)},
                  code=False)


def load_state(folder: str | Path) -> dict[str, Any] | None:
    """The saved state of ``folder`` as {"arrays", "host", "history", "epochs"}, or None.

    arrays : the engine's state arrays (weights, Adam moments, step count) after ``epochs`` epochs;
    host : the engine's host-side state without its histories; history : column -> list per epoch
    (:data:`HISTORY_COLUMNS` values).  An unreadable file is set aside (:func:`pixelsoap.runtime.cache.set_aside`).
    """
    path = Path(folder) / STATE_FILE
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            meta = json.loads(str(stored["meta"]))
            arrays = [stored[f"array_{i}"] for i in range(int(meta["n_arrays"]))]
            history = {c: stored[f"history_{c}"].astype(np.float64).tolist() for c in HISTORY_COLUMNS.values()}
    except UNREADABLE as error:
        set_aside(path, error)
        return None
    if meta.get("format") != FORMAT_VERSION or any(len(v) != meta["epochs"] for v in history.values()):
        set_aside(path, f"format {meta.get('format')} or history lengths do not match")
        return None
    return {"arrays": arrays, "host": meta["host"], "history": history, "epochs": int(meta["epochs"])}


def save_state(folder: str | Path, arrays: Sequence[np.ndarray], host: Mapping[str, Any],
               history: Mapping[str, Sequence[float]], info: Mapping[str, Any] | None = None) -> Path:
    """Write one autoencoder's state atomically (see :func:`load_state`); ``info`` is kept for reading."""
    epochs = int(host["epochs_done"])
    if any(len(history[c]) != epochs for c in HISTORY_COLUMNS.values()):
        raise ValueError(f"history lengths {[len(history[c]) for c in HISTORY_COLUMNS.values()]} != {epochs} epochs")
    meta = json.dumps({"format": FORMAT_VERSION, "epochs": epochs, "n_arrays": len(arrays),
                       "host": {k: v for k, v in host.items() if k != "histories"}, "info": dict(info or {})})
    target = Path(folder) / STATE_FILE
    with atomic_path(target) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, meta=np.array(meta), **{f"array_{i}": np.asarray(a) for i, a in enumerate(arrays)},
                 **{f"history_{c}": np.asarray(history[c], np.float64) for c in HISTORY_COLUMNS.values()})
    return target


def train_until(X_train: np.ndarray, X_val: np.ndarray, h_e: int, training, folder: str | Path, epochs: int,
                on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> dict[str, list[float]]:
    """Train the linear autoencoder of code size ``h_e`` until it has ``epochs`` epochs in all; its history.

    Starts from the state saved in ``folder`` (:func:`save_state`: weights, Adam's moments and step
    count, epochs done) or from the seeded initial weights, continues with the training engine
    (:func:`pixelsoap.training.loop.train_group`; batch order and Adam steps depend on the seed and the
    absolute epoch only), and saves the state at ``epochs``.  The engine checkpoints every epoch in
    ``folder/engine`` (keyed by this call's target), so an interrupted call resumed with the same
    target loses at most the epoch in progress.  Returns column -> per-epoch list for every epoch
    since the first (val_mse, train_loss, seconds); ``on_epoch(epoch, record)`` is called after each
    epoch trained here.  A state already at or past ``epochs`` is returned as it is.

    training : a :class:`pixelsoap.experiments.experiment2.compression.TrainingConfig` (learning rate, batch size,
    seed; its
    epochs and patience are ignored: every epoch is trained).
    """
    folder = Path(folder)
    saved = load_state(folder)
    start = 0 if saved is None else saved["epochs"]
    if start >= epochs:
        return saved["history"]
    X_train = np.ascontiguousarray(X_train, np.float32)
    X_val = np.ascontiguousarray(X_val, np.float32)
    spec = autoencoder_spec(X_train.shape[1], int(h_e))
    settings = _settings(training, epochs)
    seeds = [int(training.seed)]
    engine_dir = folder / "engine"
    # The engine's checkpoint key of this call: train_group(specs, X, None (targets = inputs), X_val, None, ...).
    key = checkpoint.run_key([spec], settings, seeds, [X_train, X_val])
    history = {c: list(saved["history"][c]) if saved else [] for c in HISTORY_COLUMNS.values()}

    def finish(arrays, host) -> dict[str, list[float]]:
        new = host["histories"][0]
        if int(host["epochs_done"]) != start + len(new.get("val_loss", [])):
            raise RuntimeError(f"h_e {h_e}: the engine's state holds {len(new.get('val_loss', []))} epochs after "
                               f"epoch {start}, but says {host['epochs_done']} are done")
        for name, column in HISTORY_COLUMNS.items():
            history[column] += [float(v) for v in new[name]]
        save_state(folder, arrays, host, history, {"h_e": int(h_e), "settings": repr(settings), "key": key})
        return history

    pending = checkpoint.load(engine_dir, key)
    if pending is not None and int(pending[1]["epochs_done"]) >= epochs:
        # killed between the engine's last checkpoint of this call and our save: take it as it is
        out = finish(*pending)
        checkpoint.remove(engine_dir)
        return out
    if pending is None and saved is not None:
        # hand the saved state to the engine as if this call had checkpointed it after epoch `start`
        checkpoint.save(engine_dir, key, saved["arrays"], {**saved["host"], "histories": [{}]})

    def after_epoch(done: int, histories) -> None:
        new = histories[0]
        if done != start + len(new["val_loss"]):
            raise RuntimeError(f"h_e {h_e}: the engine did not continue from epoch {start} "
                               f"(epoch {done} with {len(new['val_loss'])} new epochs)")
        if done == epochs:  # the engine's checkpoint of the last epoch: the state to keep
            restored = checkpoint.load(engine_dir, key)
            if restored is None:
                raise RuntimeError(f"h_e {h_e}: the engine's checkpoint of epoch {done} is missing")
            finish(*restored)
        if on_epoch is not None:
            on_epoch(done, {column: float(new[name][-1]) for name, column in HISTORY_COLUMNS.items()})

    train_group([spec], X_train, None, X_val, None, settings, seeds, checkpoint_dir=str(engine_dir),
                progress=False, on_epoch_end=after_epoch)
    return history

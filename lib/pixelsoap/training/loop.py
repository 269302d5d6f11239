"""The host side of :func:`pixelsoap.training.loop.train_group`: checks, padding, epochs, early stopping, resume."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from pixelsoap.runtime.dask import import_jax
from pixelsoap.runtime.progress import tqdm
from pixelsoap.runtime.validation import is_int
from pixelsoap.training import checkpoint
from pixelsoap.training.kernels import Layout, epoch_program, keep_where_program, validation_program
from pixelsoap.training.spec import (
    VALIDATION_CHUNK_ROWS,
    MLPSpec,
    TrainResult,
    TrainSettings,
    batch_plan,
    epoch_order,
    group_by_shape,
    init_weights,
)


def _matrices(name: str, data: Any, n_models: int, widths: Sequence[int | None], integer: bool = False
              ) -> tuple[list[np.ndarray], bool]:
    """Validate shared or per-model data -> (arrays, per_model).  widths[m]: model m's columns
    (None: a 1-D label vector).  Float data -> float32 and finite; integer -> int32."""
    per_model = isinstance(data, (list, tuple))
    arrays = list(data) if per_model else [data]
    if per_model and len(arrays) != n_models:
        raise ValueError(f"{name}: {len(arrays)} arrays for {n_models} models")
    checked = []
    for index, array in enumerate(arrays):
        label = f"{name}[{index}]" if per_model else name
        array = np.asarray(array)
        if integer:
            if array.ndim != 1 or not (np.issubdtype(array.dtype, np.integer)):
                raise ValueError(f"{label} must be a 1-D integer label array, got {array.dtype} {array.shape}")
            checked.append(array.astype(np.int32, copy=False))
            continue
        if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
            raise ValueError(f"{label} must be a 2-D numeric array (rows, features), got {array.dtype} {array.shape}")
        array = np.ascontiguousarray(array, np.float32)
        bad = ~np.isfinite(array)
        if bad.any():
            row, column = np.argwhere(bad)[0]
            raise ValueError(f"{label} has {int(bad.sum())} non-finite values (first {array[row, column]} "
                             f"at row {row}, column {column})")
        checked.append(array)
    for m in range(n_models):
        array = checked[m if per_model else 0]
        if widths[m] is not None and array.shape[1] != widths[m]:
            raise ValueError(f"{name}{f'[{m}]' if per_model else ''} has {array.shape[1]} columns, "
                             f"model {m} needs {widths[m]}")
    rows = {a.shape[0] for a in checked}
    if len(rows) != 1 or 0 in rows:
        raise ValueError(f"{name}: arrays must share a positive row count, got {sorted(rows)}")
    return checked, per_model


def _stack(arrays: list[np.ndarray], per_model: bool, width: int | None, row_total: int, dtype) -> np.ndarray:
    """Shared (row_total, width) / (row_total,) or per-model (M, row_total, width) zero-padded array."""
    def pad(a):
        shape = (row_total,) if width is None else (row_total, width)
        out = np.zeros(shape, dtype)
        out[tuple(slice(0, s) for s in a.shape)] = a
        return out
    return np.stack([pad(a) for a in arrays]) if per_model else pad(arrays[0])


def _check_group(specs: Sequence[MLPSpec], settings: TrainSettings, seeds: Any) -> list[int]:
    if not isinstance(settings, TrainSettings):
        raise TypeError(f"settings must be a TrainSettings, got {type(settings).__name__}")
    if not specs or not all(isinstance(s, MLPSpec) for s in specs):
        raise ValueError(f"specs must be a non-empty sequence of MLPSpec, got {specs!r}")
    structures = {s.structure for s in specs}
    if len(structures) > 1:
        raise ValueError(f"models of one group must share layer count, activations, dropout and loss; "
                         f"got {sorted(structures, key=repr)} (split them with group_by_shape)")
    if settings.monitor == "val_accuracy" and not specs[0].classifier:
        raise ValueError(f"monitor 'val_accuracy' needs classifiers, the loss is {specs[0].loss!r}")
    seeds = [settings.seed + i for i in range(len(specs))] if seeds is None else list(seeds)
    if len(seeds) != len(specs) or not all(is_int(s) and 0 <= s < 2**32 for s in seeds):
        raise ValueError(f"seeds must be {len(specs)} ints in [0, 2**32), got {seeds!r}")
    return [int(s) for s in seeds]


def _targets(name, y, X_arrays, x_per_model, specs):
    """Checked targets -> (arrays, per_model, targets_are_inputs)."""
    n = len(specs)
    if specs[0].classifier:
        if y is None:
            raise ValueError(f"{name} is None: classifiers need integer labels")
        arrays, per_model = _matrices(name, y, n, [None] * n, integer=True)
        for m, spec in enumerate(specs):
            labels = arrays[m if per_model else 0]
            if labels.min() < 0 or labels.max() >= spec.widths[-1]:
                raise ValueError(f"{name}: labels must be in 0..{spec.widths[-1] - 1} for model {m}, "
                                 f"got {labels.min()}..{labels.max()}")
        return arrays, per_model, False
    if y is None:
        for m, spec in enumerate(specs):
            if spec.widths[-1] != spec.widths[0]:
                raise ValueError(f"{name} is None (targets = inputs) but model {m} maps {spec.widths[0]} "
                                 f"to {spec.widths[-1]} features")
        return X_arrays, x_per_model, True
    arrays, per_model = _matrices(name, y, n, [s.widths[-1] for s in specs])
    return arrays, per_model, False


def train_group(specs: Sequence[MLPSpec], X_train: Any, y_train: Any, X_val: Any, y_val: Any,
                settings: TrainSettings, seeds: Sequence[int] | None = None, *,
                checkpoint_dir: str | None = None, progress: bool = True,
                on_epoch_end: Callable[[int, list[dict[str, list[float]]]], bool | None] | None = None,
                keep_checkpoint: bool = False) -> list[TrainResult]:
    """Train the models ``specs`` together, one compiled JAX call per epoch; one TrainResult each.

    - X_train : (R, d) float array shared by all models, or a list of M arrays (R, d_m).
    - y_train : classifiers: (R,) integer labels, shared or a list; MSE: (R, d_out)
      targets, shared or a list, or None (targets = inputs).  X_val, y_val: likewise
      with V rows.  Every model of the group must share the structure
      (:attr:`MLPSpec.structure`); widths may differ (padded, exactly zero).
    - seeds : one int in [0, 2**32) per model (None: settings.seed + index); a model's
      initial weights, batch order and dropout masks depend on its seed only.
    - checkpoint_dir : with it, the full state is written there after every epoch and a
      rerun with the same specs, settings, seeds and data resumes bit-identically;
      the checkpoint is removed once training completes (unless ``keep_checkpoint``: the
      caller then removes it, after saving the results elsewhere).
    - on_epoch_end : called as on_epoch_end(epochs finished, histories) after the
      epoch's checkpoint; returning True ends training (an exception propagates).
    """
    seeds = _check_group(specs, settings, seeds)
    n_models = len(specs)
    in_widths = [s.widths[0] for s in specs]
    X_arrays, x_per_model = _matrices("X_train", X_train, n_models, in_widths)
    Y_arrays, y_per_model, targets_are_inputs = _targets("y_train", y_train, X_arrays, x_per_model, specs)
    Xv_arrays, xv_per_model = _matrices("X_val", X_val, n_models, in_widths)
    Yv_arrays, yv_per_model, _ = _targets("y_val", y_val, Xv_arrays, xv_per_model, specs)
    rows, val_rows = X_arrays[0].shape[0], Xv_arrays[0].shape[0]
    if Y_arrays[0].shape[0] != rows or Yv_arrays[0].shape[0] != val_rows:
        raise ValueError(f"row counts differ: X_train {rows}, y_train {Y_arrays[0].shape[0]}, "
                         f"X_val {val_rows}, y_val {Yv_arrays[0].shape[0]}")
    run_key = None
    if checkpoint_dir is not None:
        run_key = checkpoint.run_key(specs, settings, seeds, X_arrays + Xv_arrays + (
            [] if targets_are_inputs else Y_arrays + Yv_arrays))

    jax = import_jax()  # optional (ml extra), imported where it is used
    jnp = jax.numpy

    classifier = specs[0].classifier
    widths = np.max([s.widths for s in specs], axis=0).tolist()
    label_dtype = np.int32 if classifier else np.float32
    target_width = None if classifier else widths[-1]
    X_device = jnp.asarray(_stack(X_arrays, x_per_model, widths[0], rows, np.float32))
    Y_device = (None if targets_are_inputs
                else jnp.asarray(_stack(Y_arrays, y_per_model, target_width, rows, label_dtype)))
    chunk = min(VALIDATION_CHUNK_ROWS, val_rows)
    val_total = -(-val_rows // chunk) * chunk
    Xv_device = jnp.asarray(_stack(Xv_arrays, xv_per_model, widths[0], val_total, np.float32))
    Yv_device = None if targets_are_inputs else jnp.asarray(
        _stack(Yv_arrays, yv_per_model, target_width, val_total, label_dtype))
    val_weight = jnp.asarray((np.arange(val_total) < val_rows).astype(np.float32))

    base = dict(activations=specs[0].activations, dropout=specs[0].dropout, classifier=classifier,
                targets_are_inputs=targets_are_inputs, learning_rate=float(settings.learning_rate))
    run_epoch = epoch_program(Layout(x_shared=not x_per_model, y_shared=not y_per_model, **base))
    validate = validation_program(Layout(x_shared=not xv_per_model, y_shared=not yv_per_model, **base), chunk)

    # Padded parameters, their gradient masks, and the per-model output mask.
    initial = [init_weights(s, seed) for s, seed in zip(specs, seeds)]
    params, grad_masks = [], []
    for layer, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        kernels = np.zeros((n_models, fan_in, fan_out), np.float32)
        biases = np.zeros((n_models, fan_out), np.float32)
        kernel_mask, bias_mask = np.zeros_like(kernels), np.zeros_like(biases)
        for m, spec in enumerate(specs):
            true_in, true_out = spec.widths[layer], spec.widths[layer + 1]
            kernels[m, :true_in, :true_out] = initial[m][2 * layer]
            kernel_mask[m, :true_in, :true_out] = 1.0
            bias_mask[m, :true_out] = 1.0
        params.append((kernels, biases))
        grad_masks.append((kernel_mask, bias_mask))
    out_mask = jnp.asarray(np.stack([np.arange(widths[-1]) < s.widths[-1] for s in specs]))
    out_width = jnp.asarray([float(s.widths[-1]) for s in specs], jnp.float32)
    grad_masks = jax.tree_util.tree_map(jnp.asarray, tuple(grad_masks))
    params = tuple(params)
    zeros = jax.tree_util.tree_map(np.zeros_like, params)
    early_stopping = settings.patience is not None
    state = (params, zeros, zeros, np.zeros(n_models, np.float32), params if early_stopping else ())
    treedef = jax.tree_util.tree_structure(state)
    better = np.greater if settings.monitor == "val_accuracy" else np.less
    host = {"epochs_done": 0, "histories": [{} for _ in specs], "wait": [0] * n_models,
            "best": [None] * n_models, "best_epoch": [0] * n_models, "stopped": [False] * n_models}
    if run_key is not None:
        restored = checkpoint.load(checkpoint_dir, run_key)
        if restored is not None:
            state = jax.tree_util.tree_unflatten(treedef, restored[0])
            host = restored[1]
    params, m_state, v_state, iterations, best_params = jax.tree_util.tree_map(jnp.array, state)
    seeds_device = jnp.asarray(np.array(seeds, np.uint32))
    keep_where = keep_where_program()

    bar = tqdm(total=settings.epochs, initial=host["epochs_done"], disable=not progress,
               desc=f"{n_models} model(s)", unit="epoch")
    try:
        for epoch in range(host["epochs_done"], settings.epochs):
            if all(host["stopped"]):
                break
            start = time.perf_counter()
            active = np.logical_not(host["stopped"])
            orders = np.stack([epoch_order(seed, epoch, rows) for seed in seeds])
            batch_index, row_weight = batch_plan(orders, settings.batch_size)
            (params, m_state, v_state, iterations), loss_rows, correct = run_epoch(
                params, m_state, v_state, iterations, jnp.asarray(active), seeds_device, grad_masks, out_mask,
                out_width, jnp.asarray(batch_index), X_device, Y_device, jnp.asarray(row_weight), np.uint32(epoch))
            val_loss, val_correct = validate(params, out_mask, out_width, Xv_device, Yv_device, val_weight)
            train_loss = np.asarray(loss_rows, np.float64).sum(axis=1) / rows
            train_accuracy = np.asarray(correct, np.float64).sum(axis=1) / rows
            val_loss = np.asarray(val_loss, np.float64) / val_rows
            val_accuracy = np.asarray(val_correct, np.float64) / val_rows
            seconds = time.perf_counter() - start
            improved = np.zeros(n_models, bool)
            for m in np.flatnonzero(active):
                record = {"loss": train_loss[m], "val_loss": val_loss[m]}
                if classifier:
                    record.update(accuracy=train_accuracy[m], val_accuracy=val_accuracy[m])
                record["epoch_seconds"] = seconds
                for name, value in record.items():
                    host["histories"][m].setdefault(name, []).append(float(value))
                current = float(record[settings.monitor])
                # keras.callbacks.EarlyStopping.on_epoch_end with min_delta 0 and no baseline
                host["wait"][m] += 1
                if host["best"][m] is None or better(current, host["best"][m]):
                    host["best"][m], host["best_epoch"][m], host["wait"][m] = current, epoch, 0
                    improved[m] = True
                elif early_stopping and host["wait"][m] >= settings.patience and epoch > 0:
                    host["stopped"][m] = True
            if early_stopping:
                best_params = keep_where(jnp.asarray(improved), params, best_params)
            host["epochs_done"] = epoch + 1
            if run_key is not None:
                leaves = jax.tree_util.tree_leaves((params, m_state, v_state, iterations, best_params))
                checkpoint.save(checkpoint_dir, run_key, [np.asarray(a) for a in leaves], host)
            bar.update(1)
            finished = [v for h in host["histories"] for v in h.get(settings.monitor, [])]
            if finished:
                bar.set_postfix({settings.monitor: (max if better is np.greater else min)(finished)})
            if on_epoch_end is not None and on_epoch_end(epoch + 1, host["histories"]):
                break
    finally:
        bar.close()

    final = [np.asarray(a) for a in jax.tree_util.tree_leaves(best_params if early_stopping else params)]
    results = []
    for m, spec in enumerate(specs):
        weights = [leaf[m][tuple(slice(0, s) for s in shape)].copy()
                   for leaf, shape in zip(final, [s for a, b in zip(spec.widths[:-1], spec.widths[1:])
                                                  for s in ((a, b), (b,))])]
        history = host["histories"][m]
        results.append(TrainResult(weights=weights, history=history, epochs=len(history.get("loss", [])),
                                   best_epoch=int(host["best_epoch"][m]) + 1))
    if run_key is not None and not keep_checkpoint:
        checkpoint.remove(checkpoint_dir)
    return results


def _appender(done_epochs: list[int]) -> Callable[[int, Any], None]:
    """An on_epoch_end for train_group that records each epoch it trains in ``done_epochs``."""
    return lambda done, histories: done_epochs.append(done)


def _restored_seconds(results: Sequence[TrainResult], epochs_now: int) -> float:
    """Recorded seconds of the epochs a group took from its checkpoint (all but the last ``epochs_now``)."""
    longest = max((r.history.get("epoch_seconds", []) for r in results), key=len, default=[])
    return float(sum(longest[:max(0, len(longest) - epochs_now)]))


def _members(data: Any, members: Sequence[int]) -> Any:
    """The part of a train_group argument (shared array, None, or one entry per model) for ``members``."""
    return [data[m] for m in members] if isinstance(data, (list, tuple)) else data


def train_in_groups(specs: Sequence[MLPSpec], X_train: Any, y_train: Any, X_val: Any, y_val: Any,
                    settings: TrainSettings, seeds: Sequence[int], *, max_waste: float = 1.25,
                    groups: Sequence[Sequence[int]] | None = None, checkpoint_dir: str | None = None,
                    progress: bool = False, errors: str = "raise") -> list[tuple[Any, float, int]]:
    """Train many models in groups of similar shape; one ``(result, seconds, group_size)`` per model, in order.

    Arguments as :func:`train_group` (data shared, or one entry per model); the models are split by
    :func:`pixelsoap.training.spec.group_by_shape` (``max_waste``) unless ``groups`` (lists of indices)
    is given.  ``seconds``: the group's wall time (a resumed group's: this call's plus the recorded
    seconds of the epochs it restored) shared in proportion to parameter counts.

    - checkpoint_dir : each group keeps its state in ``<checkpoint_dir>/group-<i>`` (resumable), a finished
      group included, until every group is done; so an interrupted family resumes without retraining
      the groups it had finished (a finished group is restored with zero epochs left).
    - errors : "raise", or "return": a group that raises gives its exception as each member's result
      (one bad group does not stop the others).
    """
    if errors not in ("raise", "return"):
        raise ValueError(f"errors must be 'raise' or 'return', got {errors!r}")
    groups = group_by_shape(specs, max_waste) if groups is None else [list(g) for g in groups]
    out: list[Any] = [None] * len(specs)
    group_dirs = []
    for index, members in enumerate(groups):
        start = time.perf_counter()
        args = ([specs[m] for m in members], _members(X_train, members), _members(y_train, members),
                _members(X_val, members), _members(y_val, members), settings, [seeds[m] for m in members])
        kept = {}
        if checkpoint_dir is not None:
            group_dirs.append(f"{checkpoint_dir}/group-{index}")
            kept = dict(checkpoint_dir=group_dirs[-1], keep_checkpoint=True)
        epochs_now: list[int] = []
        try:
            trained = train_group(*args, progress=progress, on_epoch_end=_appender(epochs_now), **kept)
        except Exception as exc:
            if errors == "raise":
                raise
            for m in members:
                out[m] = (exc, 0.0, len(members))
            continue
        seconds = time.perf_counter() - start + _restored_seconds(trained, len(epochs_now))
        sizes = np.array([specs[m].n_params for m in members], dtype=np.float64)
        for m, result, share in zip(members, trained, sizes / sizes.sum()):
            out[m] = (result, seconds * float(share), len(members))
    for directory in group_dirs:                     # the family is done: its caller records the results
        checkpoint.remove(directory)
    return out


def epoch_seconds(specs: Sequence[MLPSpec], X_train: Any, y_train: Any, X_val: Any, y_val: Any,
                  settings: TrainSettings, epochs: int = 3) -> float:
    """Measured wall seconds of one epoch (training and validation) of ``specs`` trained as one group.

    Trains ``epochs`` epochs (>= 2) from fresh weights, no checkpoint, and returns the median time
    between epoch ends after the first (the first includes compilation).  What a run's cost
    estimate should rest on: it does not depend on which models a cache already held.
    """
    if not (is_int(epochs) and epochs >= 2):
        raise ValueError(f"epochs must be an int >= 2, got {epochs!r}")

    ends: list[float] = []
    settings = dataclasses.replace(settings, epochs=int(epochs), patience=None)
    train_group(specs, X_train, y_train, X_val, y_val, settings, None, progress=False,
                on_epoch_end=lambda done, histories: ends.append(time.perf_counter()))
    return float(np.median(np.diff(ends)))

"""The compiled JAX programs of :mod:`pixelsoap.training.spec`: one epoch of a group of MLPs, validation.

Everything here is traced once per group layout (a hashable :class:`Layout`) and cached.
Shapes use M = models in the group, R = training rows, B = batch size, S = batches
per epoch, V = validation rows (padded to whole chunks), and per Dense layer l the
group's padded widths ``in_l`` x ``out_l``.  All arrays are float32 except indices
and labels (int32).  JAX is imported inside the functions so that importing
pixelsoap does not start it.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from pixelsoap.runtime.dask import import_jax

ADAM_BETA_1 = 0.9
ADAM_BETA_2 = 0.999
ADAM_EPSILON = 1e-7
MASKED_LOGIT = -1e9          # logit of a padded output unit: exp() is exactly 0 in float32


class Layout(NamedTuple):
    """Static description of a group's program (hashable; one compiled program per value).

    activations : per Dense layer, "relu" | "linear" | "softmax".
    dropout : rate after each hidden layer.  classifier : sparse categorical
    cross-entropy (True) or MSE (False).  x_shared / y_shared : one input (target)
    matrix for all models (True) or one per model (False).  targets_are_inputs :
    MSE targets are the input rows.  learning_rate : Adam step size.
    """

    activations: tuple[str, ...]
    dropout: float
    classifier: bool
    x_shared: bool
    y_shared: bool
    targets_are_inputs: bool
    learning_rate: float


def _activate(z, name):
    jnp = import_jax().numpy  # optional (ml extra), imported where it is used

    return jnp.maximum(z, 0.0) if name == "relu" else z


def _mix32(x):
    """lowbias32 integer hash (C. Wellons): a bijection of uint32 with full avalanche."""
    jnp = import_jax().numpy

    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def _dropout_keep(key, layer_index, batch_rows, width, rate):
    """(batch_rows, width) bool keep-mask; element (r, j) depends only on (key, layer, r, j).

    A counter-based hash of (step key, layer, row, unit) instead of one (B, width)
    threefry draw: it keeps a model's masks independent of its group's padded width
    and costs a few integer operations per element (threefry's 20 rounds doubled the
    epoch time of a 256-unit classifier).  Uniform = top 24 bits / 2**24.
    """
    jax = import_jax()
    jnp = jax.numpy

    words = jax.random.key_data(key).astype(jnp.uint32)
    salt = _mix32(words[0] ^ _mix32(words[1] + jnp.uint32(layer_index) * jnp.uint32(0x9E3779B9)))
    rows = _mix32(jnp.arange(batch_rows, dtype=jnp.uint32) + salt)
    units = _mix32(jnp.arange(width, dtype=jnp.uint32) * jnp.uint32(0x85EBCA6B) ^ words[1])
    bits = _mix32(_mix32(rows[:, None] ^ units[None, :]) + salt)
    return (bits >> 8).astype(jnp.float32) * jnp.float32(2.0 ** -24) >= rate


def _logits(layout, params, x, key):
    """Forward pass of one model: x (rows, in_0) -> last layer's pre-activation (rows, out_L)."""
    jnp = import_jax().numpy

    h = x
    last = len(params) - 1
    for index, (kernel, bias) in enumerate(params):
        z = h @ kernel + bias
        if index == last:
            return z
        h = _activate(z, layout.activations[index])
        if key is not None and layout.dropout > 0.0:
            keep = _dropout_keep(key, index, h.shape[0], h.shape[1], layout.dropout)
            h = jnp.where(keep, h * jnp.float32(1.0 / (1.0 - layout.dropout)), 0.0)
    raise AssertionError("no layers")


def _row_losses(layout, z, target, out_mask, out_width):
    """Per-row loss (rows,) and per-row correctness (rows,) (zeros for MSE).

    Cross-entropy from the logits (log-softmax), as Keras's backends do
    for a softmax output: it reads the logits behind the Softmax op and does not clip.
    MSE: mean over the model's true output features (padded ones masked out).
    """
    jax = import_jax()
    jnp = jax.numpy

    if layout.classifier:
        z = jnp.where(out_mask, z, MASKED_LOGIT)
        log_probs = jax.nn.log_softmax(z, axis=-1)
        picked = jnp.take_along_axis(log_probs, target[:, None], axis=1)[:, 0]
        correct = (jnp.argmax(z, axis=-1) == target).astype(jnp.float32)
        return -picked, correct
    squared = jnp.where(out_mask, jnp.square(z - target), 0.0)
    return jnp.sum(squared, axis=-1) / out_width, jnp.zeros(z.shape[0], jnp.float32)


def _adam(layout, param, grad, m, v, step):
    """Keras 3 Adam (keras/src/optimizers/adam.py, amsgrad off) in float32; step = iterations + 1."""
    jnp = import_jax().numpy

    lr = jnp.float32(layout.learning_rate)
    alpha = (lr * jnp.sqrt(1 - jnp.power(jnp.float32(ADAM_BETA_2), step))
             / (1 - jnp.power(jnp.float32(ADAM_BETA_1), step)))
    m = m + (grad - m) * (1 - ADAM_BETA_1)
    v = v + (jnp.square(grad) - v) * (1 - ADAM_BETA_2)
    return param - (m * alpha) / (jnp.sqrt(v) + ADAM_EPSILON), m, v


def _model_epoch(layout, params, m, v, iterations, active, seed, grad_masks, out_mask, out_width,
                 batch_index, X, Y, row_weight, epoch):
    """One epoch of ONE model (vmapped over the group by :func:`epoch_program`).

    params, m, v : tuples of (kernel (in_l, out_l), bias (out_l,)); iterations : float32
    Adam steps so far; active : bool (False: frozen, nothing changes); seed : uint32;
    batch_index (S, B) int32 rows of X; row_weight (S, B) float32: 1 for real rows,
    0 for the padding of the last partial batch.  Returns the new (params, m, v,
    iterations) and per batch (loss x rows, correct rows), (S,) each.
    """
    jax = import_jax()
    jnp = jax.numpy

    epoch_key = jax.random.fold_in(jax.random.key(seed), epoch)

    def batch_loss(p, xb, yb, weight, key):
        z = _logits(layout, p, xb, key)
        losses, correct = _row_losses(layout, z, yb, out_mask, out_width)
        rows = jnp.sum(weight)
        return jnp.sum(losses * weight) / rows, (rows, jnp.sum(correct * weight))

    def step(carry, inputs):
        params, m, v, iterations = carry
        rows_index, weight, step_index = inputs
        xb = X[rows_index]
        yb = xb if layout.targets_are_inputs else Y[rows_index]
        key = jax.random.fold_in(epoch_key, step_index)
        (loss, (rows, correct)), grads = jax.value_and_grad(batch_loss, has_aux=True)(params, xb, yb, weight, key)
        new_iterations = iterations + 1.0
        new_params, new_m, new_v = [], [], []
        for p_layer, g_layer, m_layer, v_layer, mask_layer in zip(params, grads, m, v, grad_masks):
            layer = [_adam(layout, p, g * mask, mm, vv, new_iterations)
                     for p, g, mm, vv, mask in zip(p_layer, g_layer, m_layer, v_layer, mask_layer)]
            new_params.append(tuple(entry[0] for entry in layer))
            new_m.append(tuple(entry[1] for entry in layer))
            new_v.append(tuple(entry[2] for entry in layer))
        new_carry = (tuple(new_params), tuple(new_m), tuple(new_v), new_iterations)
        new_carry = jax.tree_util.tree_map(lambda new, old: jnp.where(active, new, old), new_carry, carry)
        return new_carry, (loss * rows, correct)

    steps = jnp.arange(batch_index.shape[0], dtype=jnp.uint32)
    carry, (loss_rows, correct) = jax.lax.scan(step, (params, m, v, iterations), (batch_index, row_weight, steps))
    return carry, loss_rows, correct


@functools.lru_cache(maxsize=32)
def epoch_program(layout: Layout):
    """Jitted epoch of a group: (params, m, v, iterations, active, seeds, grad_masks, out_mask,
    out_width, batch_index (M, S, B), X, Y, row_weight (S, B), epoch) -> ((params, m, v,
    iterations), loss x rows (M, S), correct rows (M, S)).

    X : (R, in_0) when ``layout.x_shared`` else (M, R, in_0); Y likewise ((R,) / (M, R)
    int32 labels, (R, out_L) / (M, R, out_L) float32 targets; ignored when targets are inputs).
    The optimiser state is donated (updated in place).
    """
    jax = import_jax()

    x_axis = None if layout.x_shared else 0
    y_axis = None if (layout.y_shared or layout.targets_are_inputs) else 0
    vmapped = jax.vmap(functools.partial(_model_epoch, layout),
                       in_axes=(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, x_axis, y_axis, None, None))
    return jax.jit(vmapped, donate_argnums=(0, 1, 2, 3))


@functools.lru_cache(maxsize=32)
def validation_program(layout: Layout, chunk_rows: int):
    """Jitted validation: (params, out_mask, out_width, X_val, Y_val, row_weight (V,)) ->
    (loss sum (M,), correct rows (M,)), over V rows in chunks of ``chunk_rows`` (V a multiple).

    X_val : (V, in_0) or (M, V, in_0); Y_val as in :func:`epoch_program`.  No dropout.
    """
    jax = import_jax()
    jnp = jax.numpy

    def one_model(params, out_mask, out_width, X, Y, row_weight):
        def chunk(totals, start):
            xb = jax.lax.dynamic_slice_in_dim(X, start, chunk_rows)
            yb = xb if layout.targets_are_inputs else jax.lax.dynamic_slice_in_dim(Y, start, chunk_rows)
            weight = jax.lax.dynamic_slice_in_dim(row_weight, start, chunk_rows)
            losses, correct = _row_losses(layout, _logits(layout, params, xb, None), yb, out_mask, out_width)
            return (totals[0] + jnp.sum(losses * weight), totals[1] + jnp.sum(correct * weight)), None

        starts = jnp.arange(0, row_weight.shape[0], chunk_rows)
        (loss_sum, correct), _ = jax.lax.scan(chunk, (jnp.float32(0), jnp.float32(0)), starts)
        return loss_sum, correct

    x_axis = None if layout.x_shared else 0
    y_axis = None if (layout.y_shared or layout.targets_are_inputs) else 0
    return jax.jit(jax.vmap(one_model, in_axes=(0, 0, 0, x_axis, y_axis, None)))


@functools.lru_cache(maxsize=1)
def keep_where_program():
    """Jitted ``where(flag[m], new, old)`` over matching pytrees with leading model axis M."""
    jax = import_jax()
    jnp = jax.numpy

    def select(flags, new, old):
        return jax.tree_util.tree_map(
            lambda a, b: jnp.where(flags.reshape((-1,) + (1,) * (a.ndim - 1)), a, b), new, old)

    return jax.jit(select)

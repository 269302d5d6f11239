"""The many-model training engine: groups of small MLPs trained at once by compiled JAX programs.

- :mod:`.spec`: what to train (:class:`MLPSpec`, :class:`TrainSettings`, weights, groups by shape)
- :mod:`.loop`: :func:`train_group` and :func:`train_in_groups`, the epochs, early stopping, resuming
- :mod:`.kernels`: the compiled JAX programs of an epoch and of validation
- :mod:`.checkpoint`: each group's state after every epoch, so an interrupted run resumes
- :mod:`.log`: training curves written with DVCLive for ``dvc plots``

Importing the package does not import JAX; call :func:`configure_threads` first to limit its threads.
"""

from pixelsoap.runtime.dask import configure_jax_threads as configure_threads
from pixelsoap.training.loop import epoch_seconds, train_group, train_in_groups
from pixelsoap.training.spec import (
    MAX_GROUP_STATE_BYTES,
    VALIDATION_CHUNK_ROWS,
    MLPSpec,
    TrainResult,
    TrainSettings,
    autoencoder_spec,
    classifier_spec,
    forward,
    group_by_shape,
    init_weights,
    set_keras_weights,
)

__all__ = ["MAX_GROUP_STATE_BYTES", "MLPSpec", "TrainResult", "TrainSettings", "VALIDATION_CHUNK_ROWS",
           "autoencoder_spec", "classifier_spec", "configure_threads", "epoch_seconds", "forward", "group_by_shape",
           "init_weights", "set_keras_weights", "train_group", "train_in_groups"]

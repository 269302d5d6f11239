"""The paper's models and the metrics they are judged by.

- :mod:`.classifier`: the Fig. 8 classifier (Keras), trained by the training engine
- :mod:`.autoencoders`: the Fig. 15-16 autoencoders of Experiment 2
- :mod:`.cnn`: the small CNN of Experiment 4 (beyond the paper)
- :mod:`.metrics`: Table 1's metrics, the confusion matrix, estimates with intervals

Keras (on JAX) is imported only when a model is built; call :func:`configure_threads`
first to limit JAX's threads.
"""

from pixelsoap.models.autoencoders import build_autoencoder, train_autoencoders
from pixelsoap.models.classifier import (
    N_CLASSES,
    ClassifierConfig,
    build_classifier,
    load_model,
    predict_labels,
    predict_proba,
    save_model,
    to_keras,
    train_classifier,
)
from pixelsoap.models.metrics import classification_report, confusion_matrix, estimate
from pixelsoap.runtime.dask import configure_jax_threads as configure_threads

__all__ = ["N_CLASSES", "ClassifierConfig", "build_autoencoder", "build_classifier", "classification_report",
           "configure_threads", "confusion_matrix", "estimate", "load_model", "predict_labels", "predict_proba",
           "save_model", "to_keras", "train_autoencoders", "train_classifier"]

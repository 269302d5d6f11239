"""The small CNN of Experiment 4: shapes, parameter count, augmentation, repeatability."""

import numpy as np
import pytest

from pixelsoap.models import cnn


def _expected_parameters(rows, cols, f1, f2, hidden):
    """Weights counted by hand: two valid 3x3 convolutions, each halved by 2x2 pooling."""
    side_r = ((rows - 2) // 2 - 2) // 2
    side_c = ((cols - 2) // 2 - 2) // 2
    return (9 * f1 + f1) + (9 * f1 * f2 + f2) + (side_r * side_c * f2) * hidden + hidden + hidden * 10 + 10


@pytest.mark.parametrize("augment", [False, True])
def test_cnn_shapes_and_parameter_count(augment):
    config = cnn.CnnConfig(filters=(4, 6), hidden=12, augment=augment)
    model = cnn.build_cnn((28, 28), config)
    assert tuple(model.input_shape) == (None, 28, 28, 1)
    assert tuple(model.output_shape) == (None, 10)
    assert model.count_params() == _expected_parameters(28, 28, 4, 6, 12) == cnn.parameter_count((28, 28), config)
    # the paper-sized default: 16 and 32 filters, 64 hidden units
    assert cnn.parameter_count((28, 28), cnn.CnnConfig()) == _expected_parameters(28, 28, 16, 32, 64)
    # the augmentation turns the training images before each epoch: no layer of the model does it
    assert [layer.name for layer in model.layers] == ["grey", "conv_1", "pool_1", "conv_2", "pool_2", "flatten",
                                                      "hidden", "output"]


@pytest.mark.slow
def test_augmented_training_turns_the_images_by_fresh_angles_each_epoch(monkeypatch):
    from pixelsoap.images.transforms import rotate_each

    seen = []

    def recording(images, angles):
        seen.append(np.asarray(angles))
        return rotate_each(images, angles)

    monkeypatch.setattr(cnn, "rotate_each", recording)
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(24, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, size=24)
    config = cnn.CnnConfig(filters=(2, 2), hidden=4, epochs=2, batch_size=8, seed=4, augment=True)
    model, info = cnn.train_cnn(images, labels, config)
    assert len(seen) == 2 and all(a.shape == (24,) and a.min() >= -180 and a.max() < 180 for a in seen)
    assert not np.allclose(seen[0], seen[1])                      # a fresh turn each epoch
    assert len(info["history"]["loss"]) == 2
    again, _ = cnn.train_cnn(images, labels, config)               # seeded: the same angles, the same model
    np.testing.assert_array_equal(seen[2], seen[0])
    np.testing.assert_allclose(cnn.predict_cnn(again, images[:4]), cnn.predict_cnn(model, images[:4]),
                               rtol=1e-5, atol=1e-6)
    plain, _ = cnn.train_cnn(images, labels, cnn.CnnConfig(filters=(2, 2), hidden=4, epochs=2, batch_size=8, seed=4))
    assert not np.allclose(cnn.predict_cnn(plain, images[:4]), cnn.predict_cnn(model, images[:4]), atol=1e-4)


@pytest.mark.slow
def test_cnn_trains_predicts_and_repeats():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(40, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, size=40)
    config = cnn.CnnConfig(filters=(2, 2), hidden=4, epochs=1, batch_size=16, seed=3)
    model, info = cnn.train_cnn(images, labels, config)
    proba = cnn.predict_cnn(model, images[:5])
    assert proba.shape == (5, 10) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert len(info["history"]["loss"]) == 1 and info["seconds"] > 0
    again, _ = cnn.train_cnn(images, labels, config)
    np.testing.assert_allclose(cnn.predict_cnn(again, images[:5]), proba, rtol=1e-5, atol=1e-6)
    assert cnn.predict_cnn(model, np.zeros((0, 28, 28))).shape == (0, 10)


def test_cnn_config_is_checked():
    with pytest.raises(ValueError, match="filters"):
        cnn.CnnConfig(filters=(4,))
    with pytest.raises(ValueError, match="epochs"):
        cnn.CnnConfig(epochs=0)
    with pytest.raises(ValueError, match="unknown CNN setting"):
        cnn.config_from_mapping({"filterz": [1, 2]})

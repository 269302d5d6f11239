"""Algorithm 1: image -> 3D points."""

import numpy as np
import pytest

from pixelsoap.images.conversion import (
    describe_counts,
    image_to_points,
    images_to_points,
    point_pixels,
    points_per_image,
    transform_image,
)


def test_coordinates_follow_algorithm_1():
    image = np.zeros((4, 5), dtype=np.uint8)
    image[1, 3] = 255   # row 1, column 3 -> x=3, y=1, z=25
    image[2, 0] = 19    # z = floor(1.9) = 1
    image[3, 4] = 9     # z = 0: dropped
    points = image_to_points(image)
    np.testing.assert_array_equal(points, [[3, 1, 25], [0, 2, 1]])
    assert points.dtype == np.float64 and points.shape == (2, 3)


def test_float_images_and_any_size():
    image = np.full((3, 40), 10.0)
    image[0, 0] = 99.9
    points = image_to_points(image)
    assert points.shape == (120, 3)
    assert points[0, 2] == 9 and set(points[1:, 2]) == {1}


def test_blank_image_gives_empty_point_set():
    points = image_to_points(np.zeros((28, 28), dtype=np.uint8))
    assert points.shape == (0, 3)
    assert image_to_points(np.zeros((28, 28)), sigma_disturbance=1.0, rng=0).shape == (0, 3)


@pytest.mark.parametrize("bad, message", [
    (np.array([[1.0, np.nan]]), "NaN"),
    (np.array([[-1, 3]]), ">= 0"),
    (np.array([[256, 3]]), "<= 255"),
    (np.zeros((2, 2, 2)), "2D"),
    (np.zeros(5), "2D"),
    (np.array([["a", "b"]]), "dtype"),
])
def test_rejects_bad_images_with_clear_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        image_to_points(bad)


def test_refuses_bool_and_unit_scaled_images_naming_the_fix():
    mask = np.zeros((28, 28), dtype=bool)
    mask[5:20, 10:14] = True
    with pytest.raises(ValueError, match=r"dtype bool.*astype\(np.uint8\) \* 255"):
        image_to_points(mask)
    unit = mask * 0.8
    with pytest.raises(ValueError, match=r"values in 0..1 \(max 0.8\).*0..255.*multiply it by 255"):
        image_to_points(unit)
    with pytest.raises(ValueError, match=r"max 1\b"):
        point_pixels(mask.astype(np.float32))
    with pytest.raises(ValueError, match=r"image 1 of the stack.*max 0.8"):
        points_per_image(np.stack([np.zeros((28, 28)), unit]))
    with pytest.raises(ValueError, match="dtype bool"):
        points_per_image(mask[None])
    with pytest.raises(ValueError, match="dtype bool"):
        images_to_points([mask])
    # the fixes the messages name work, and boundaries stay allowed
    assert len(image_to_points(mask.astype(np.uint8) * 255)) == 60
    assert len(image_to_points(unit * 255)) == 60
    assert image_to_points(np.zeros((4, 4))).shape == (0, 3)          # all-zero float: no points, no error
    assert image_to_points(np.full((2, 2), 1.5)).shape == (0, 3)      # max above 1: a (faint) 0..255 image
    assert image_to_points(np.ones((2, 2), dtype=np.uint8)).shape == (0, 3)   # integer 1s: 0..255 levels
    np.testing.assert_array_equal(points_per_image(np.stack([np.zeros((3, 3)), np.full((3, 3), 20.0)])), [0, 9])


def test_rejects_negative_sigma():
    with pytest.raises(ValueError, match="sigma_disturbance"):
        image_to_points(np.ones((2, 2)) * 50, sigma_disturbance=-0.1)


def test_noise_statistics_and_seed():
    image = np.full((100, 100), 200, dtype=np.uint8)
    clean = image_to_points(image)
    noisy = image_to_points(image, sigma_disturbance=0.7, rng=42)
    noise = noisy - clean
    assert np.allclose(noise.mean(axis=0), 0.0, atol=0.02)
    assert np.allclose(noise.std(axis=0), 0.7, rtol=0.03)
    np.testing.assert_array_equal(noisy, image_to_points(image, sigma_disturbance=0.7, rng=42))
    assert not np.array_equal(noisy, image_to_points(image, sigma_disturbance=0.7, rng=43))


def test_batch_matches_single_and_is_repeatable():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 6, 6))
    batch = images_to_points(images)
    for img, pts in zip(images, batch):
        np.testing.assert_array_equal(pts, image_to_points(img))
    a = images_to_points(images, 0.5, rng=1)
    b = images_to_points(images, 0.5, rng=1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_points_per_image_and_pixels():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(4, 7, 7)).astype(np.uint8)
    counts = points_per_image(images)
    assert counts.tolist() == [len(image_to_points(i)) for i in images]
    rows, cols = point_pixels(images[0])
    np.testing.assert_array_equal(image_to_points(images[0])[:, :2], np.column_stack([cols, rows]))
    summary = describe_counts(counts)
    assert summary["images"] == 4 and summary["min"] <= summary["median"] <= summary["max"]


def test_transform_image_is_exact():
    image = np.arange(12).reshape(3, 4)                       # rows r = 0..2, columns c = 0..3
    # counter-clockwise by 90 degrees: pixel (r, c) goes to (W - 1 - c, r), the array becomes W x H
    expected = np.empty((4, 3), image.dtype)
    for r in range(3):
        for c in range(4):
            expected[3 - c, r] = image[r, c]
    np.testing.assert_array_equal(transform_image(image, rotation=90), expected)
    np.testing.assert_array_equal(transform_image(image, rotation=360), image)
    np.testing.assert_array_equal(transform_image(transform_image(image, rotation=90), rotation=270), image)
    assert transform_image(image, mirror=True).tolist() == [[3, 2, 1, 0], [7, 6, 5, 4], [11, 10, 9, 8]]
    moved = transform_image(image, shift=(1, -1), pad=2)
    assert moved.shape == (7, 8) and sorted(moved[moved > 0].tolist()) == list(range(1, 12))
    assert moved[2 + 1, 2 - 1 + 1] == image[0, 1]             # pixel (0, 1) padded by 2, moved by (1, -1)
    with pytest.raises(ValueError, match="multiple of 90"):
        transform_image(image, rotation=45)
    with pytest.raises(ValueError, match="out of the padded canvas"):
        transform_image(np.ones((3, 3)), shift=(2, 0), pad=1)

"""Image transforms of Experiment 4: exact turns and mirrors, interpolated angles, translation, rescaling."""

import numpy as np
import pytest

from pixelsoap.images import transforms as it
from pixelsoap.images.conversion import image_to_points


def _random_image(shape=(9, 9), seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=shape).astype(np.uint8)


def _smooth_image(n=41):
    """A smooth blob pattern well inside the frame (interpolation errors stay small)."""
    i, j = np.mgrid[0:n, 0:n].astype(np.float64)
    c = (n - 1) / 2
    blob = np.exp(-(((i - c - 4) ** 2) / 40 + ((j - c + 2) ** 2) / 15))
    return np.rint(200 * blob).astype(np.uint8)


def test_rotation_by_90_is_the_explicit_pixel_permutation():
    image = _random_image((7, 7))
    n = image.shape[0]
    expected = np.empty_like(image)
    for i in range(n):
        for j in range(n):
            # counter-clockwise as drawn: the top row's right end goes to the left column's top
            expected[i, j] = image[j, n - 1 - i]
    np.testing.assert_array_equal(it.rotate(image, 90), expected)
    assert it.rotate(image, 90)[0, 0] == image[0, n - 1]


def test_rotations_by_multiples_of_90_compose_exactly():
    image = _random_image((8, 8), seed=1)        # even side: the centre lies between pixels
    np.testing.assert_array_equal(it.rotate(it.rotate(image, 90), 90), it.rotate(image, 180))
    np.testing.assert_array_equal(it.rotate(image, 180), image[::-1, ::-1])
    np.testing.assert_array_equal(it.rotate(image, -90), it.rotate(image, 270))


@pytest.mark.parametrize("angle", [0, 360, -360, 720])
def test_rotation_by_full_turns_is_the_identity(angle):
    image = _random_image((6, 6), seed=2)
    np.testing.assert_array_equal(it.rotate(image, angle), image)


def test_two_rotations_by_15_approximate_one_by_30_away_from_the_border():
    image = _smooth_image()
    twice = it.rotate(it.rotate(image, 15), 15).astype(float)
    once = it.rotate(image, 30).astype(float)
    inner = slice(10, 31)
    assert np.abs(twice[inner, inner] - once[inner, inner]).max() <= 12      # of 200: interpolation blur only
    assert np.abs(once[inner, inner] - image[inner, inner]).max() > 40       # and 30 degrees did move it


def test_rotation_keeps_grey_levels_and_dtype():
    image = _random_image((10, 10), seed=3)
    out = it.rotate(image, 37.5)
    assert out.dtype == np.uint8 and out.shape == image.shape
    assert out.min() >= 0 and out.max() <= 255
    assert len(image_to_points(out)) > 0


def test_nearest_rotation_keeps_the_grey_levels_and_agrees_at_right_angles():
    image = _random_image((9, 9), seed=7)
    out = it.rotate(image, 33, interpolation="nearest")
    assert set(np.unique(out)) <= set(np.unique(image)) | {0}
    np.testing.assert_array_equal(it.rotate(image, 90, interpolation="nearest"), it.rotate(image, 90))
    with pytest.raises(ValueError, match="interpolation"):
        it.rotate(image, 10, interpolation="cubic")


def test_mirror_flips_columns():
    image = _random_image((5, 6), seed=4)
    out = it.mirror(image)
    for i in range(5):
        for j in range(6):
            assert out[i, j] == image[i, 5 - j]


def test_rescale_by_one_is_the_identity_and_zoom_moves_ink_outwards():
    image = _smooth_image()
    np.testing.assert_array_equal(it.rescale(image, 1.0), image)
    big = it.rescale(image, 1.5)
    assert big.shape == image.shape
    # a larger digit: more pixels above a level
    assert (big > 50).sum() > (image > 50).sum()
    with pytest.raises(ValueError, match="factor"):
        it.rescale(image, 0)


def test_translation_preserves_the_pixel_multiset_and_moves_points_rigidly():
    image = _random_image((6, 7), seed=5)
    out = it.translate(image, (2, -1), pad=3)
    assert out.shape == (12, 13)
    np.testing.assert_array_equal(np.sort(out[out > 0]), np.sort(image[image > 0]))
    assert out.sum(dtype=np.int64) == image.sum(dtype=np.int64)
    before, after = image_to_points(image), image_to_points(out)
    np.testing.assert_array_equal(after[:, :2] - before[:, :2], np.tile([3 - 1, 3 + 2], (len(before), 1)))
    with pytest.raises(ValueError, match="leaves the canvas"):
        it.translate(image, (4, 0), pad=3)


def test_center_crop_inverts_padding():
    image = _random_image((5, 5), seed=6)
    np.testing.assert_array_equal(it.center_crop(it.translate(image, (0, 0), pad=2), (5, 5)), image)
    padded = it.center_crop(image, (9, 9))
    assert padded.shape == (9, 9) and padded[2:7, 2:7].tolist() == image.tolist()


def test_transforms_refuse_what_is_not_a_grey_image():
    with pytest.raises(ValueError, match="2D"):
        it.rotate(np.zeros((2, 2, 2)), 10)
    with pytest.raises(ValueError, match="0..255"):
        it.mirror(np.full((3, 3), 300.0))
    with pytest.raises(ValueError, match="square"):
        it.rotate(np.zeros((3, 4)), 90)


def test_rotate_each_equals_rotate_image_by_image():
    rng = np.random.default_rng(5)
    stack = rng.integers(0, 256, size=(64, 28, 28)).astype(np.uint8)
    angles = rng.uniform(-400.0, 400.0, size=64)
    angles[:6] = [0.0, 90.0, -90.0, 180.0, 270.0, 45.0]        # exact turns and an interpolated one
    expected = np.stack([it.rotate(image, angle) for image, angle in zip(stack, angles)])
    np.testing.assert_array_equal(it.rotate_each(stack, angles), expected)
    floats = rng.uniform(0.0, 255.0, size=(5, 12, 9))             # float levels, a non-square frame
    np.testing.assert_array_equal(it.rotate_each(floats, [0.0, 180.0, 15.0, -30.0, 361.0]),
                                  np.stack([it.rotate(f, a) for f, a in zip(floats, [0.0, 180.0, 15.0, -30.0, 361.0])]))
    assert it.rotate_each(stack[:0], []).shape == (0, 28, 28)


def test_rotate_each_refuses_bad_stacks_and_angles():
    stack = np.zeros((3, 8, 8), np.uint8)
    with pytest.raises(ValueError, match="one angle per image"):
        it.rotate_each(stack, [0.0, 1.0])
    with pytest.raises(ValueError, match="finite"):
        it.rotate_each(stack, [0.0, np.nan, 1.0])
    with pytest.raises(ValueError, match="stack"):
        it.rotate_each(stack[0], [0.0])
    with pytest.raises(ValueError, match="0..255"):
        it.rotate_each(np.full((3, 8, 8), 300.0), [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="square"):
        it.rotate_each(np.zeros((1, 8, 6)), [90.0])

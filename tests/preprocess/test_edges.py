"""Tests for edgefer.preprocess.edges and edgefer.preprocess.kernels."""
import time

import numpy as np
import pytest

from edgefer.preprocess import KIRSCH_KERNELS, RING_OFFSETS, kirsch, kirsch_reference

DTYPES = [np.uint8, np.float32, np.float64]


def _random_image(dtype, shape=(23, 31), seed=0):
    rng = np.random.default_rng(seed)
    if dtype == np.uint8:
        return rng.integers(0, 256, size=shape, dtype=np.uint8)
    return rng.random(shape).astype(dtype)


def _explicit_kirsch(image):
    """All 8 responses by a plain loop over the padded image (correlation, edge padding)."""
    padded = np.pad(image.astype(np.float64), 1, mode="edge")
    h, w = image.shape
    out = np.zeros((8, h, w))
    for i, k in enumerate(KIRSCH_KERNELS):
        for dy in range(3):
            for dx in range(3):
                out[i] += k[dy, dx] * padded[dy:dy + h, dx:dx + w]
    return out


def test_kirsch_kernels_shape_dtype_and_north_first():
    """KIRSCH_KERNELS is int32 (8, 3, 3), read-only, starting with the north mask."""
    assert KIRSCH_KERNELS.shape == (8, 3, 3) and KIRSCH_KERNELS.dtype == np.int32
    np.testing.assert_array_equal(KIRSCH_KERNELS[0], [[5, 5, 5], [-3, 0, -3], [-3, -3, -3]])
    assert not KIRSCH_KERNELS.flags.writeable


def test_kirsch_kernels_rotate_clockwise():
    """Mask i has 5 on ring neighbours i, i+1, i+2 (clockwise from top-left) and -3 elsewhere."""
    for i, kernel in enumerate(KIRSCH_KERNELS):
        expected = np.full((3, 3), -3)
        expected[1, 1] = 0
        for j in (i, i + 1, i + 2):
            dy, dx = RING_OFFSETS[j % 8]
            expected[1 + dy, 1 + dx] = 5
        np.testing.assert_array_equal(kernel, expected)
        assert kernel.sum() == 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_kirsch_constant_image_is_zero(dtype):
    """A constant image has zero edge magnitude everywhere, borders included."""
    image = np.full((6, 9), 77, dtype=dtype)
    out = kirsch(image)
    np.testing.assert_array_equal(out, 0)


def test_kirsch_vertical_step_by_hand():
    """Left 0 | right 10: 8*30-3*30 = 150 (east) left of the step, 8*30-3*50 = 90 right of it."""
    image = np.zeros((5, 6), dtype=np.uint8)
    image[:, 3:] = 10
    mag, direction = kirsch(image, return_direction=True)
    np.testing.assert_array_equal(mag, np.tile([0, 0, 150, 90, 0, 0], (5, 1)))
    assert (direction[:, 2] == 2).all()  # E: 5s on top-right, right, bottom-right
    # Right of the step, masks NE, E and SE all give 90; the first (NE = 1) wins the tie.
    assert (direction[:, 3] == 1).all()


def test_kirsch_horizontal_step_direction_south():
    """Top 0 / bottom 10: the row above the step responds 150 with the south mask (index 4)."""
    image = np.zeros((6, 5), dtype=np.uint8)
    image[3:] = 10
    mag, direction = kirsch(image, return_direction=True)
    np.testing.assert_array_equal(mag[2], 150)
    np.testing.assert_array_equal(direction[2], 4)


def test_kirsch_is_correlation_not_convolution():
    """A single bright top-left neighbour fires the masks with a 5 at the top-left (N, W, NW), first N."""
    image = np.zeros((3, 3), dtype=np.uint8)
    image[0, 0] = 1
    mag, direction = kirsch(image, return_direction=True)
    assert mag[1, 1] == 5 and direction[1, 1] == 0
    # A flipped convolution would put the 5 at the bottom-right instead (mask SE).


def test_kirsch_single_pixel_image():
    """A 1x1 image replicates to a constant neighbourhood and gives 0."""
    mag, direction = kirsch(np.array([[200]], dtype=np.uint8), return_direction=True)
    assert mag.shape == (1, 1) and mag[0, 0] == 0 and direction[0, 0] == 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kirsch_ring_sum_equals_eight_mask_reference(dtype, seed):
    """The ring-sum identity equals max over the 8 explicit correlations, magnitude and direction."""
    image = _random_image(dtype, seed=seed)
    mag, direction = kirsch(image, return_direction=True)
    ref_mag, ref_dir = kirsch_reference(image, return_direction=True)
    loop = _explicit_kirsch(image)
    if dtype == np.uint8:
        np.testing.assert_array_equal(mag, ref_mag)
        np.testing.assert_array_equal(mag, loop.max(axis=0))
    else:
        np.testing.assert_allclose(mag, ref_mag, rtol=1e-6, atol=1e-5)
        np.testing.assert_allclose(mag, loop.max(axis=0), rtol=1e-6, atol=1e-5)
    np.testing.assert_array_equal(direction, ref_dir)
    np.testing.assert_array_equal(direction, loop.argmax(axis=0))


def test_kirsch_ties_pick_first_mask_like_reference():
    """On a coarse uint8 image full of ties the direction is the first maximum, as in the reference."""
    rng = np.random.default_rng(3)
    image = (rng.integers(0, 2, size=(30, 30)) * 100).astype(np.uint8)
    _, direction = kirsch(image, return_direction=True)
    _, ref_dir = kirsch_reference(image, return_direction=True)
    np.testing.assert_array_equal(direction, ref_dir)


@pytest.mark.parametrize("dtype, out_dtype", [(np.uint8, np.int32), (np.float32, np.float32),
                                              (np.float64, np.float32)])
def test_kirsch_output_shape_and_dtype(dtype, out_dtype):
    """Magnitude is (H, W) int32 for uint8 input, float32 for float input; direction uint8."""
    image = _random_image(dtype, shape=(7, 11))
    mag, direction = kirsch(image, return_direction=True)
    assert mag.shape == (7, 11) and mag.dtype == out_dtype
    assert direction.shape == (7, 11) and direction.dtype == np.uint8
    assert direction.max() <= 7
    assert kirsch(image).dtype == out_dtype


def test_kirsch_magnitude_bounds_uint8():
    """Magnitude is never negative and reaches 5*765 = 3825 for a full ring of 255s."""
    rng = np.random.default_rng(4)
    assert kirsch(rng.integers(0, 256, size=(40, 40), dtype=np.uint8)).min() >= 0
    image = np.zeros((3, 3), dtype=np.uint8)
    image[0] = 255
    assert kirsch(image)[1, 1] == 3825


@pytest.mark.parametrize("dtype", DTYPES)
def test_kirsch_input_untouched(dtype):
    """The input image is not modified."""
    image = _random_image(dtype)
    before = image.copy()
    kirsch(image, return_direction=True)
    np.testing.assert_array_equal(image, before)


def test_kirsch_rejects_color_image():
    """A (H, W, 3) image raises ValueError naming the accepted 2-D dtypes."""
    expected = r"`image` must be a 2-D uint8, float32 or float64 array \(H, W\); got shape \(48, 48, 3\)"
    with pytest.raises(ValueError, match=expected):
        kirsch(np.zeros((48, 48, 3), dtype=np.uint8))


def test_kirsch_rejects_int64():
    """An int64 image raises TypeError with its dtype."""
    with pytest.raises(TypeError, match="dtype int64"):
        kirsch(np.zeros((4, 4), dtype=np.int64))


def test_kirsch_is_fast():
    """A 1000x1000 uint8 image with directions takes well under a second."""
    image = _random_image(np.uint8, shape=(1000, 1000))
    start = time.perf_counter()
    kirsch(image, return_direction=True)
    assert time.perf_counter() - start < 1.0

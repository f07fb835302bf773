"""Tests for edgefer.preprocess.scale."""
import numpy as np
import pytest

from edgefer.preprocess import FaceBox, clip_box, normalize_scale


def test_normalize_scale_upscale_is_bilinear():
    """A 2x2 [0, 100] step enlarged to 4x4 gives 0, 25, 75, 100 along each row (half-pixel centres)."""
    image = np.array([[0, 100], [0, 100]], dtype=np.uint8)
    out = normalize_scale(image, size=4)
    np.testing.assert_array_equal(out, np.tile([0, 25, 75, 100], (4, 1)))


def test_normalize_scale_halving_is_block_mean():
    """Halving with bilinear sampling at half-pixel centres averages 2x2 blocks."""
    image = (np.arange(16, dtype=np.uint8) * 10).reshape(4, 4)
    np.testing.assert_array_equal(normalize_scale(image, size=2), [[25, 45], [105, 125]])


def test_normalize_scale_crops_the_box():
    """Box (x=2, y=1, w=3, h=2) at its own size returns exactly image[1:3, 2:5]."""
    image = np.arange(48, dtype=np.uint8).reshape(6, 8)
    out = normalize_scale(image, (2, 1, 3, 3), size=3)
    np.testing.assert_array_equal(out, image[1:4, 2:5])


def test_normalize_scale_box_none_is_whole_image_copy():
    """box=None at the image's own size returns equal values in a new array."""
    image = np.arange(25, dtype=np.uint8).reshape(5, 5)
    out = normalize_scale(image, None, size=5)
    np.testing.assert_array_equal(out, image)
    assert not np.shares_memory(out, image)


def test_normalize_scale_clips_box_to_image():
    """A box hanging over the top-left corner is cut to the part inside the image."""
    image = np.arange(36, dtype=np.uint8).reshape(6, 6)
    out = normalize_scale(image, (-3, -2, 5, 6), size=4)
    np.testing.assert_array_equal(out[:, :2], normalize_scale(image[0:4, 0:2], size=4)[:, :2])
    assert clip_box((-3, -2, 5, 6), image.shape) == (0, 0, 2, 4)
    assert clip_box((4, 4, 10, 10), image.shape) == (4, 4, 2, 2)


def test_normalize_scale_accepts_facebox_and_bgr():
    """A FaceBox works like its tuple, and a BGR image gives (size, size, 3)."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(60, 80, 3), dtype=np.uint8)
    out = normalize_scale(image, FaceBox(10, 5, 30, 40, 1.0), size=48)
    assert out.shape == (48, 48, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, normalize_scale(image, (10, 5, 30, 40), size=48))


def test_normalize_scale_input_untouched():
    """The input image is not modified."""
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(30, 30), dtype=np.uint8)
    before = image.copy()
    normalize_scale(image, (3, 3, 20, 20), size=48)
    np.testing.assert_array_equal(image, before)


def test_normalize_scale_box_outside_image_raises():
    """A box entirely outside the image raises ValueError saying nothing is left."""
    with pytest.raises(ValueError, match=r"does not overlap the image of size \(H, W\) = \(10, 20\)"):
        normalize_scale(np.zeros((10, 20), dtype=np.uint8), (25, 0, 5, 5))


def test_normalize_scale_bad_box_raises():
    """Non-positive width, float coordinates and wrong length are refused with clear messages."""
    image = np.zeros((10, 10), dtype=np.uint8)
    with pytest.raises(ValueError, match="width and height must be positive"):
        normalize_scale(image, (0, 0, 0, 5))
    with pytest.raises(TypeError, match=r"`box` must be 4 ints \(x, y, w, h\)"):
        normalize_scale(image, (0.5, 0, 5, 5))
    with pytest.raises(TypeError, match=r"`box` must be 4 ints"):
        normalize_scale(image, (0, 0, 5))


def test_normalize_scale_bad_size_raises():
    """size must be an int >= 1."""
    image = np.zeros((10, 10), dtype=np.uint8)
    with pytest.raises(ValueError, match="`size` must be >= 1; got 0"):
        normalize_scale(image, size=0)
    with pytest.raises(TypeError, match="`size` must be an int"):
        normalize_scale(image, size=48.0)


def test_normalize_scale_rejects_float_image():
    """A float image raises TypeError listing the accepted layouts."""
    with pytest.raises(TypeError, match=r"must be a 2-D or 3-D uint8 array \(H, W\) or \(H, W, 3\)"):
        normalize_scale(np.zeros((10, 10), dtype=np.float32))

"""Tests for edgefer.preprocess.histogram."""
import cv2
import numpy as np
import pytest

from edgefer.preprocess import equalize_hist


def test_equalize_hist_known_histogram():
    """Levels 50 (2 px), 100 (1 px), 200 (1 px) map to round(255 * [2/4, 3/4, 4/4]) = 128, 191, 255."""
    image = np.array([[50, 50], [100, 200]], dtype=np.uint8)
    expected = np.array([[128, 128], [191, 255]], dtype=np.uint8)
    np.testing.assert_array_equal(equalize_hist(image), expected)


def test_equalize_hist_differs_from_opencv_on_darkest_level():
    """OpenCV subtracts c_min and sends the darkest level to 0; the paper's mapping does not."""
    image = np.array([[50, 50], [100, 200]], dtype=np.uint8)
    # OpenCV by hand: (c - 2) / (4 - 2) * 255 for c = 2, 3, 4 -> 0, 127.5 -> 128, 255.
    np.testing.assert_array_equal(cv2.equalizeHist(image), [[0, 0], [128, 255]])
    assert equalize_hist(image)[0, 0] == 128


def test_equalize_hist_rounds_half_up():
    """255 * 3/10 = 76.5 becomes 77 (floor(x + 0.5)), not 76 as round-half-even would give."""
    image = np.array([[0, 0, 0, 1, 1, 1, 1, 1, 1, 1]], dtype=np.uint8)
    out = equalize_hist(image)
    np.testing.assert_array_equal(out, [[77, 77, 77] + [255] * 7])
    assert np.round(255 * 0.3) == 76


def test_equalize_hist_uniform_histogram_is_stretched():
    """Each of 256 levels once: level k maps to floor(255 * (k + 1) / 256 + 0.5)."""
    image = np.arange(256, dtype=np.uint8).reshape(16, 16)
    k = np.arange(256)
    expected = np.floor(255 * (k + 1) / 256 + 0.5).astype(np.uint8).reshape(16, 16)
    np.testing.assert_array_equal(equalize_hist(image), expected)


def test_equalize_hist_brightest_level_maps_to_255():
    """Whatever the histogram, the brightest present level becomes 255 and order is kept."""
    rng = np.random.default_rng(0)
    image = rng.integers(20, 90, size=(32, 40), dtype=np.uint8)
    out = equalize_hist(image)
    assert out[image == image.max()].min() == 255
    order = np.argsort(image.ravel(), kind="stable")
    assert (np.diff(out.ravel()[order].astype(int)) >= 0).all()


@pytest.mark.parametrize("value", [0, 37, 255])
def test_equalize_hist_constant_image_unchanged(value):
    """A constant image is returned as an unchanged copy, like cv2.equalizeHist."""
    image = np.full((5, 7), value, dtype=np.uint8)
    out = equalize_hist(image)
    np.testing.assert_array_equal(out, image)
    np.testing.assert_array_equal(cv2.equalizeHist(image), image)
    assert not np.shares_memory(out, image)


def test_equalize_hist_input_untouched_and_new_array():
    """The input is not modified and the output is a new uint8 array of the same shape."""
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(48, 48), dtype=np.uint8)
    before = image.copy()
    out = equalize_hist(image)
    np.testing.assert_array_equal(image, before)
    assert out.dtype == np.uint8 and out.shape == image.shape
    assert not np.shares_memory(out, image)


def test_equalize_hist_rejects_float():
    """A float image raises TypeError naming the expected uint8 (H, W) array."""
    expected = r"`image` must be a 2-D uint8 array \(H, W\); got shape \(4, 4\), dtype float64\.$"
    with pytest.raises(TypeError, match=expected):
        equalize_hist(np.zeros((4, 4)))


def test_equalize_hist_rejects_color():
    """A 3-channel image raises ValueError with its shape."""
    with pytest.raises(ValueError, match=r"got shape \(48, 48, 3\), dtype uint8"):
        equalize_hist(np.zeros((48, 48, 3), dtype=np.uint8))


def test_equalize_hist_rejects_empty_and_non_array():
    """An image without pixels raises ValueError and a list raises TypeError."""
    with pytest.raises(ValueError, match="at least one pixel"):
        equalize_hist(np.zeros((0, 5), dtype=np.uint8))
    with pytest.raises(TypeError, match="got list"):
        equalize_hist([[1, 2], [3, 4]])

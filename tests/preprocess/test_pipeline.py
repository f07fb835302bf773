"""Tests for edgefer.preprocess.pipeline."""
import cv2
import numpy as np
import pytest
import skimage.data

from edgefer.preprocess import (FaceBox, HaarFaceDetector, detect_faces, equalize_hist,
                                normalize_scale, preprocess, preprocess_faces)


@pytest.fixture(scope="module")
def astronaut_bgr():
    """skimage's astronaut photo (public-domain NASA image), 512x512 BGR uint8."""
    return cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)


def _random_bgr(shape=(60, 80, 3), seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def test_preprocess_equals_manual_composition():
    """gray -> crop + bilinear resize -> equalize gives the same pixels done by hand."""
    image = _random_bgr()
    box = (10, 5, 40, 50)
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    crop = cv2.resize(gray[5:55, 10:50], (48, 48), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(preprocess(image, box=box), equalize_hist(crop))
    np.testing.assert_array_equal(preprocess(image, box=box, equalize=False), crop)


def test_preprocess_output_shape_dtype():
    """The result is uint8 (size, size) for gray, BGR and BGRA input."""
    for image in (_random_bgr()[..., 0].copy(), _random_bgr(), _random_bgr((60, 80, 4))):
        out = preprocess(image, size=32)
        assert out.shape == (32, 32) and out.dtype == np.uint8


def test_preprocess_detect_uses_largest_face(astronaut_bgr):
    """detect=True on the astronaut photo equals preprocessing the detected face box."""
    face = detect_faces(astronaut_bgr)[0]
    np.testing.assert_array_equal(preprocess(astronaut_bgr, detect=True),
                                  preprocess(astronaut_bgr, box=face))


def test_preprocess_detect_without_face_uses_whole_image():
    """When no face is found the whole image is used."""
    image = np.zeros((64, 64), dtype=np.uint8)
    image[:, 32:] = 200
    np.testing.assert_array_equal(preprocess(image, detect=True), preprocess(image))


def test_preprocess_given_box_wins_over_detection(astronaut_bgr):
    """An explicit box is used as given even with detect=True."""
    box = (0, 0, 100, 100)
    np.testing.assert_array_equal(preprocess(astronaut_bgr, box=box, detect=True),
                                  preprocess(astronaut_bgr, box=box))


def test_preprocess_custom_detector(astronaut_bgr):
    """A given detector is used when detect=True."""
    detector = HaarFaceDetector(max_side=256)
    face = detector.detect(astronaut_bgr)[0]
    np.testing.assert_array_equal(preprocess(astronaut_bgr, detect=True, detector=detector),
                                  preprocess(astronaut_bgr, box=face))


def test_preprocess_detector_without_detect_raises():
    """Passing a detector with detect=False raises instead of ignoring it."""
    with pytest.raises(ValueError, match="`detector` was given but `detect` is False"):
        preprocess(_random_bgr(), detector=HaarFaceDetector())


def test_preprocess_input_untouched():
    """The input image is not modified."""
    image = _random_bgr()
    before = image.copy()
    preprocess(image, box=(1, 1, 30, 30))
    np.testing.assert_array_equal(image, before)


def test_preprocess_rejects_float_image():
    """A float image raises TypeError with its dtype."""
    with pytest.raises(TypeError, match="dtype float64"):
        preprocess(np.zeros((48, 48)))


def test_preprocess_faces_stacks_each_box():
    """Row i equals preprocess with boxes[i]; FaceBox and tuples are both accepted."""
    image = _random_bgr((90, 120, 3))
    boxes = [FaceBox(0, 0, 50, 60, 1.0), (60, 20, 40, 40)]
    batch = preprocess_faces(image, boxes, size=24, equalize=True)
    assert batch.shape == (2, 24, 24) and batch.dtype == np.uint8
    for row, box in zip(batch, boxes):
        np.testing.assert_array_equal(row, preprocess(image, box=box, size=24))


def test_preprocess_faces_no_boxes_gives_empty_batch():
    """No boxes give a (0, size, size) uint8 array."""
    batch = preprocess_faces(_random_bgr(), [], size=48)
    assert batch.shape == (0, 48, 48) and batch.dtype == np.uint8


def test_preprocess_faces_without_equalize_is_plain_resize():
    """equalize=False gives the bilinear crops unchanged."""
    image = _random_bgr()[..., 1].copy()
    batch = preprocess_faces(image, [(5, 5, 20, 20)], size=16, equalize=False)
    np.testing.assert_array_equal(batch[0], normalize_scale(image, (5, 5, 20, 20), size=16))

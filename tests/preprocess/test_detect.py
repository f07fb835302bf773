"""Tests for edgefer.preprocess.detect (OpenCV's frontal Haar cascade)."""
import dataclasses

import cv2
import numpy as np
import pytest
import skimage.data

from edgefer.preprocess import FaceBox, HaarFaceDetector, detect_faces
from edgefer.preprocess.detect import get_detector

ASTRONAUT_FACE = (177, 66, 95, 95)  # where the default cascade finds Eileen Collins' face


def iou(a, b):
    """Intersection over union of two (x, y, w, h) boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter)


@pytest.fixture(scope="module")
def astronaut_bgr():
    """skimage's astronaut photo (public-domain NASA image), 512x512 BGR uint8."""
    return cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)


def test_facebox_area_tuple_and_frozen():
    """FaceBox exposes area and as_tuple and cannot be modified."""
    box = FaceBox(1, 2, 30, 40, 0.5)
    assert box.area == 1200 and box.as_tuple() == (1, 2, 30, 40) and box.score == 0.5
    assert FaceBox(0, 0, 1, 1).score is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        box.x = 5


def test_detect_finds_astronaut_face(astronaut_bgr):
    """The default detector finds exactly one face, overlapping the known box with IoU > 0.5."""
    faces = HaarFaceDetector().detect(astronaut_bgr)
    assert len(faces) == 1
    assert iou(faces[0].as_tuple(), ASTRONAUT_FACE) > 0.5
    assert isinstance(faces[0].score, float) and faces[0].score > 0
    assert all(isinstance(v, int) for v in faces[0].as_tuple())


def test_detect_gray_equals_bgr(astronaut_bgr):
    """A gray copy of the photo gives the same boxes as the BGR photo."""
    gray = cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY)
    assert detect_faces(gray) == detect_faces(astronaut_bgr)


def test_detect_blank_image_returns_empty_list():
    """An image with no face gives an empty list, not None."""
    assert detect_faces(np.full((200, 240, 3), 128, dtype=np.uint8)) == []


def test_detect_max_side_returns_original_coordinates(astronaut_bgr):
    """Detecting on a copy shrunk to 256 px still reports the face in 512-px coordinates."""
    faces = HaarFaceDetector(max_side=256).detect(astronaut_bgr)
    assert len(faces) == 1
    assert iou(faces[0].as_tuple(), ASTRONAUT_FACE) > 0.5


def test_detect_largest_face_first(astronaut_bgr):
    """With the face pasted at full and 0.6 scale, the full-size face comes first."""
    crop = astronaut_bgr[16:226, 122:332]
    canvas = np.full((260, 420, 3), 128, dtype=np.uint8)
    canvas[10:220, 10:220] = crop
    canvas[40:166, 260:386] = cv2.resize(crop, (126, 126), interpolation=cv2.INTER_AREA)
    faces = detect_faces(canvas)
    assert len(faces) == 2
    assert faces[0].area > faces[1].area
    assert faces[0].x < 220 <= faces[1].x


def test_detect_input_untouched(astronaut_bgr):
    """Detection does not modify the image."""
    image = astronaut_bgr.copy()
    detect_faces(image)
    np.testing.assert_array_equal(image, astronaut_bgr)


def test_detect_faces_caches_detector_per_options():
    """The same options share one detector; different options get another."""
    assert get_detector() is get_detector(min_size=[30, 30])
    assert get_detector(max_side=320) is not get_detector()


def test_detector_missing_cascade_names_path(tmp_path):
    """A missing cascade file raises FileNotFoundError with its path."""
    path = tmp_path / "nope.xml"
    with pytest.raises(FileNotFoundError, match="nope.xml"):
        HaarFaceDetector(path)


def test_detector_empty_cascade_names_path(tmp_path):
    """An empty or invalid cascade file raises FileNotFoundError with its path."""
    empty = tmp_path / "empty.xml"
    empty.write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="empty.xml"):
        HaarFaceDetector(empty)
    bad = tmp_path / "bad.xml"
    bad.write_text("<opencv_storage></opencv_storage>")
    with pytest.raises(FileNotFoundError, match="not a valid cascade"):
        HaarFaceDetector(bad)


def test_detector_bad_options_raise():
    """Out-of-range or wrongly typed options are refused with the option's name."""
    with pytest.raises(ValueError, match="`scale_factor` must be > 1"):
        HaarFaceDetector(scale_factor=1.0)
    with pytest.raises(ValueError, match=r"`min_size\[0\]` must be >= 1"):
        HaarFaceDetector(min_size=(0, 30))
    with pytest.raises(TypeError, match=r"`min_size` must be 2 ints \(w, h\)"):
        HaarFaceDetector(min_size=30)
    with pytest.raises(ValueError, match="`min_neighbors` must be >= 0"):
        HaarFaceDetector(min_neighbors=-1)
    with pytest.raises(TypeError, match="unexpected keyword"):
        detect_faces(np.zeros((50, 50), np.uint8), minNeighbors=3)


def test_detect_rejects_float_image():
    """A float image raises TypeError naming the accepted layouts."""
    expected = r"`image` must be a 2-D or 3-D uint8 array \(H, W\) or \(H, W, 3\) or \(H, W, 4\)"
    with pytest.raises(TypeError, match=expected):
        detect_faces(np.zeros((50, 50), dtype=np.float32))

"""Tests for the shipped MTCNN detector and detectors by name."""
import cv2
import numpy as np
import pytest
import skimage.data

from edgefer.preprocess.detect import HaarFaceDetector
from edgefer.preprocess.detectors import DETECTORS, make_detector
from edgefer.preprocess.mtcnn import WEIGHTS, MTCNNFaceDetector

pytestmark = pytest.mark.usefixtures("one_thread")


def iou(a, b):
    """Intersection over union of two (x, y, w, h) boxes."""
    iw = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return iw * ih / (a[2] * a[3] + b[2] * b[3] - iw * ih)


@pytest.fixture(scope="module")
def astronaut():
    """skimage's astronaut photo as BGR; Haar finds her face at (177, 66, 95, 95)."""
    return cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)


def test_mtcnn_finds_the_astronaut_framed_like_haar(astronaut):
    """One face, reframed close to Haar's box, with five landmarks: eyes above the nose above the mouth, inside the box."""
    (face,) = MTCNNFaceDetector().detect(astronaut)
    assert iou(face.as_tuple(), (177, 66, 95, 95)) > 0.75 and face.score > 0.99
    (le, re, nose, lm, rm) = face.landmarks
    assert le[0] < nose[0] < re[0] and lm[0] < nose[0] < rm[0]
    assert max(le[1], re[1]) < nose[1] < min(lm[1], rm[1])
    assert all(face.x <= x <= face.x + face.w and face.y <= y <= face.y + face.h for x, y in face.landmarks)


def test_mtcnn_finds_a_tilted_face_haar_misses(astronaut):
    """The astronaut turned 30 degrees in the image plane: Haar finds nothing, MTCNN finds her face."""
    rotated = cv2.warpAffine(astronaut, cv2.getRotationMatrix2D((225, 115), 30, 1.0), (512, 512))
    assert HaarFaceDetector().detect(rotated) == []
    (face,) = MTCNNFaceDetector().detect(rotated)
    assert abs(face.x + face.w / 2 - 225) < 20 and abs(face.y + face.h / 2 - 115) < 20


def test_mtcnn_gray_bgra_and_downscaled_agree(astronaut):
    """Gray and BGRA input and detection on a copy shrunk to 256 px find the same face, in original pixels."""
    ref = MTCNNFaceDetector().detect(astronaut)[0].as_tuple()
    gray = MTCNNFaceDetector().detect(cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY))[0].as_tuple()
    bgra = MTCNNFaceDetector().detect(cv2.cvtColor(astronaut, cv2.COLOR_BGR2BGRA))[0].as_tuple()
    small = MTCNNFaceDetector(max_side=256).detect(astronaut)[0].as_tuple()
    assert iou(ref, gray) > 0.8 and iou(ref, bgra) > 0.95 and iou(ref, small) > 0.8


def test_mtcnn_one_detector_in_parallel_threads_gives_each_call_its_own_answer(astronaut):
    """The web server shares one MTCNN detector between its worker threads (``thread_safe``):
    four threads detecting different images at once (the photo, its tilted copy, a flat image,
    the photo in gray) each get exactly what a lone call gives."""
    import concurrent.futures

    d = MTCNNFaceDetector()
    assert d.thread_safe
    rotated = cv2.warpAffine(astronaut, cv2.getRotationMatrix2D((225, 115), 30, 1.0), (512, 512))
    images = [astronaut, rotated, np.full((300, 400), 128, np.uint8), cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY)] * 3
    alone = [[f.as_tuple() for f in d.detect(im)] for im in images[:4]] * 3
    assert alone[0] and alone[1] and alone[2] == []
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda im: [f.as_tuple() for f in d.detect(im)], images))
    assert together == alone


def test_mtcnn_no_face_is_empty_and_bad_input_raises():
    """A flat image gives []; a float image raises TypeError; bad thresholds raise ValueError."""
    assert MTCNNFaceDetector().detect(np.full((120, 160, 3), 128, np.uint8)) == []
    with pytest.raises(TypeError):
        MTCNNFaceDetector().detect(np.zeros((64, 64), np.float32))
    with pytest.raises(ValueError, match="`thresholds` must be 3 numbers"):
        MTCNNFaceDetector(thresholds=(0.5, 2.0, 0.5))


def test_mtcnn_missing_or_bad_weights_name_the_file(tmp_path):
    """A missing or non-MTCNN weights file raises FileNotFoundError naming it."""
    with pytest.raises(FileNotFoundError, match="nothing.pt"):
        MTCNNFaceDetector(weights=tmp_path / "nothing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not torch")
    with pytest.raises(FileNotFoundError, match="not a valid MTCNN state"):
        MTCNNFaceDetector(weights=bad)


def test_shipped_detector_weights_fit_the_budget():
    """The shipped detector weights and their licence are in edgefer/weights/detectors, at most 5 MB in all."""
    folder = WEIGHTS.parent
    assert (folder / "mtcnn-LICENSE.md").read_text().startswith("MIT License")
    assert sum(p.stat().st_size for p in folder.iterdir()) <= 5 * 1024 * 1024


def test_make_detector_by_name():
    """Each known name gives its detector; an unknown one lists the known names."""
    assert [make_detector(n).name for n in DETECTORS] == list(DETECTORS)
    assert make_detector("mtcnn", max_side=320).max_side == 320
    with pytest.raises(ValueError, match="unknown face detector 'yolo'; choose one of: haar, mtcnn"):
        make_detector("yolo")


def test_recognizer_takes_a_detector_name(tiny_checkpoint, astronaut):
    """Recognizer(detector='mtcnn') finds the face with MTCNN; a detector without detect() is a TypeError."""
    from edgefer.recognize import Recognizer
    rec = Recognizer(tiny_checkpoint, detector="mtcnn")
    assert rec.detector.name == "mtcnn" and len(rec.predict(astronaut)) == 1
    with pytest.raises(TypeError, match="`detector` must be a detector name or have detect"):
        Recognizer(tiny_checkpoint, detector=42)

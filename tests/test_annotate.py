"""Tests for edgefer.annotate."""
import numpy as np
import pytest

from edgefer.annotate import annotate
from edgefer.recognize import Face


def _face(box=(10, 12, 30, 30), label="happy"):
    return Face(box=box, label=label, probabilities={label: 0.8, "sad" if label != "sad" else "happy": 0.2})


@pytest.mark.parametrize("shape", [(60, 80), (60, 80, 3), (60, 80, 4)])
def test_annotate_returns_bgr_copy_and_keeps_input(shape):
    """annotate returns a new (H, W, 3) image with the box drawn and leaves the input unchanged."""
    image = np.full(shape, 50, np.uint8)
    before = image.copy()
    out = annotate(image, [_face()])
    assert out.shape == (60, 80, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(image, before)
    assert (out != 50).any() and out[40, 70].tolist() == [50, 50, 50]


def test_annotate_without_faces_is_plain_copy():
    """With no faces the result equals the input but is another array."""
    image = np.arange(60 * 80 * 3, dtype=np.uint8).reshape(60, 80, 3)
    out = annotate(image, [])
    assert out is not image and np.array_equal(out, image)


def test_annotate_box_at_edges_stays_inside():
    """A face touching the image's top-left and right edges is drawn without error."""
    out = annotate(np.zeros((40, 40, 3), np.uint8), [_face((0, 0, 40, 40), "surprise")])
    assert out.shape == (40, 40, 3) and out.any()


def test_annotate_rejects_float_image():
    """A float image raises TypeError naming the dtype."""
    with pytest.raises(TypeError, match="float64"):
        annotate(np.zeros((10, 10)), [])


def test_annotate_shows_track_id_in_video(monkeypatch):
    """A face with a track id is labelled '#id label confidence'; a still-image face has no id."""
    import cv2
    texts = []
    real = cv2.putText
    monkeypatch.setattr(cv2, "putText", lambda img, text, *a, **k: (texts.append(text), real(img, text, *a, **k))[1])
    video_face = Face(box=(10, 12, 30, 30), label="happy", probabilities={"happy": 0.8, "sad": 0.2}, track=3)
    annotate(np.zeros((60, 80, 3), np.uint8), [video_face, _face((40, 20, 20, 20), "sad")])
    assert texts == ["#3 happy 0.80", "sad 0.80"]

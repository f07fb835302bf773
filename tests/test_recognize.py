"""Tests for edgefer.recognize.Recognizer on the astronaut photo and synthetic images."""
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
from PIL import Image

import edgefer.recognize
from edgefer.labels import CLASSES
from edgefer.recognize import Recognizer

ASTRONAUT_FACE = (177, 66, 95, 95)  # where the default cascade finds Eileen Collins' face

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def recognizer(tiny_checkpoint):
    """A Recognizer on the tiny test checkpoint."""
    return Recognizer(tiny_checkpoint)


@pytest.fixture(scope="module")
def astronaut_png(tmp_path_factory):
    """(BGR array, PNG path) of skimage's astronaut photo (NASA, public domain), lossless."""
    bgr = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    path = tmp_path_factory.mktemp("photos") / "astronaut.png"
    cv2.imwrite(str(path), bgr)
    return bgr, path


def test_predict_array_path_and_pil_agree(recognizer, astronaut_png):
    """A NumPy array, a file path and a PIL image of the same photo give the same faces."""
    bgr, path = astronaut_png
    from_array = recognizer.predict(bgr)
    from_path = recognizer.predict(path)
    with Image.open(path) as im:
        from_pil = recognizer.predict(im)
    assert [f.box for f in from_array] == [f.box for f in from_path] == [f.box for f in from_pil]
    assert len(from_array) == 1 and from_array[0].box == ASTRONAUT_FACE
    for other in (from_path, from_pil):
        assert other[0].label == from_array[0].label
        for c in CLASSES:
            assert other[0].probabilities[c] == pytest.approx(from_array[0].probabilities[c], abs=1e-6)
    assert sum(from_array[0].probabilities.values()) == pytest.approx(1.0, abs=1e-5)


def test_predict_blank_image_returns_empty_list(recognizer):
    """A uniform gray image has no face, which is an empty list, not an error."""
    assert recognizer.predict(np.full((120, 160, 3), 128, np.uint8)) == []


def test_predict_with_boxes_skips_detection(recognizer):
    """Given boxes, predict classifies exactly those boxes and never calls the detector."""
    class NoDetector:
        def detect(self, image):
            raise AssertionError("detector called although boxes were given")

    saved, recognizer.detector = recognizer.detector, NoDetector()
    try:
        faces = recognizer.predict(np.full((120, 160), 90, np.uint8), boxes=[(10, 20, 50, 60), (70, 0, 40, 40)])
    finally:
        recognizer.detector = saved
    assert [f.box for f in faces] == [(10, 20, 50, 60), (70, 0, 40, 40)]
    assert all(f.label in CLASSES and not f.detected for f in faces)


def test_unknown_model_name_lists_shipped_models(monkeypatch, tmp_path):
    """An unknown model name raises ValueError naming it and listing the shipped models."""
    (tmp_path / "fernet_demo.pt").write_bytes(b"")
    monkeypatch.setattr(edgefer.recognize, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(ValueError, match=r"'no_such_model'.*shipped: fernet_demo"):
        Recognizer("no_such_model")


def test_missing_checkpoint_path_raises_file_not_found(tmp_path):
    """A checkpoint path that does not exist raises FileNotFoundError naming the path."""
    missing = tmp_path / "nowhere" / "model.pt"
    with pytest.raises(FileNotFoundError, match=str(Path(missing).name)):
        Recognizer(missing)


def test_roles_name_the_shipped_models():
    """The role names default, fast and small resolve to the models ROLES gives them, and a
    Recognizer built by role reports that model's name."""
    from edgefer.recognize import ROLES, resolve_model, shipped_path
    for role, name in ROLES.items():
        assert resolve_model(role) == shipped_path(name)
    assert Recognizer("small").name == ROLES["small"]


def test_unknown_model_name_lists_the_roles(tmp_path, monkeypatch):
    """An unknown model name's error also lists the role names."""
    monkeypatch.setattr(edgefer.recognize, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(ValueError, match=r"roles: default, fast, small"):
        Recognizer("no_such_model")


def test_package_exports_the_recognizer_lazily():
    """``from edgefer import Recognizer, Face`` works, and ``import edgefer`` alone loads no torch."""
    import subprocess
    import sys
    code = ("import sys, edgefer; assert 'torch' not in sys.modules and 'onnxruntime' not in sys.modules; "
            "from edgefer import Recognizer, Face, ROLES; import edgefer.recognize as r; "
            "assert Recognizer is r.Recognizer and Face is r.Face and set(ROLES) == {'default', 'fast', 'small'}")
    subprocess.run([sys.executable, "-c", code], check=True)
    import edgefer
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        edgefer.nothing  # noqa: B018

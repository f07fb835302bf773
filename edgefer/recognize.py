"""``Recognizer``: load a model with its preprocessing, find faces, say which expression each shows."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from edgefer.classifiers import WEIGHTS_DIR  # the shipped models' folder, re-exported
from edgefer.labels import CLASSES
from edgefer.preprocess.spec import PreprocessSpec

log = logging.getLogger(__name__)

DEFAULT_MODEL = "ferplus-ensemble"
"""The default model (``edgefer/weights/ferplus-ensemble.json``): two int8 FERNets trained toward
FER+'s crowd votes, averaged over six views of the face (7.2 plain passes). Chosen by
``scripts/choose_models.py`` on FER+'s labels of PublicTest and LFW's choosing half, within 20
passes per face (``results/model-choice.json``; ``tests/test_model_choice.py`` checks it)."""
FAST_MODEL = "fernet16-ferplus-int8"
"""The fast model: the rule's winner within one plain pass, which is the small model too: the
FER+ student of widths 16-32-64-128 and depths 1-1-2-2 (0.2 passes) beat every 1-pass candidate."""
SMALL_MODEL = "fernet16-ferplus-int8"
"""The small model: the rule's winner within 0.2 passes (runs at 3,000 crops/s also on x86 CPUs
without VNNI, where int8 runs on slower, non-saturating kernels)."""
FER2013_MODEL = "fer2013-ensemble"
"""The default until 2026-12-05, chosen on FER-2013's own labels (71.97 % on PrivateTest): kept for
people who benchmark on FER-2013; not a role."""
ROLES = {"default": DEFAULT_MODEL, "fast": FAST_MODEL, "small": SMALL_MODEL}
"""The shipped models with a role, by role (what ``edgefer models`` marks and ``bench`` times)."""


@dataclass(frozen=True)
class Face:
    """One recognized face: box (x, y, w, h) in the original image's pixels, label, probabilities.

    In video (:class:`~edgefer.video.VideoRecognizer`) a face also has its ``frame`` index,
    ``time_s`` (seconds from the start), ``track`` id, and ``raw_probabilities`` (this frame's
    own); ``label`` and ``probabilities`` are then the track's values smoothed over time.
    Still images leave those four None.
    """

    box: tuple[int, int, int, int]
    label: str
    probabilities: dict[str, float] = field(default_factory=dict)
    detected: bool = True
    frame: int | None = None
    time_s: float | None = None
    track: int | None = None
    raw_probabilities: dict[str, float] | None = None

    @property
    def confidence(self) -> float:
        return self.probabilities[self.label]

    def to_dict(self, file: str | os.PathLike | None = None) -> dict:
        """The face as JSON-ready data: the one face schema of the CLI's --json and the web API.

        Keys, in order: ``file`` (when given), ``frame`` (video), ``box``, ``label``,
        ``confidence``, ``probabilities``, then for video ``time_s``, ``track`` and
        ``raw_probabilities``. Probabilities are rounded to 6 decimals, time to 1 ms.
        """
        d: dict = {}
        if file is not None:
            d["file"] = str(file)
        if self.frame is not None:
            d["frame"] = int(self.frame)
        d.update(box=[int(v) for v in self.box], label=self.label,
                 confidence=round(float(self.confidence), 6),
                 probabilities={k: round(float(v), 6) for k, v in self.probabilities.items()})
        if self.time_s is not None:
            d["time_s"] = round(float(self.time_s), 3)
        if self.track is not None:
            d["track"] = int(self.track)
        if self.raw_probabilities is not None:
            d["raw_probabilities"] = {k: round(float(v), 6) for k, v in self.raw_probabilities.items()}
        return d


def shipped_models() -> list[str]:
    """Names of the models that ship inside the package (checkpoints, ONNX files, ensembles)."""
    from edgefer.classifiers import MODEL_SUFFIXES
    return sorted({p.stem for p in WEIGHTS_DIR.iterdir() if p.suffix in MODEL_SUFFIXES})


def shipped_path(name: str) -> Path | None:
    """The file of a shipped model's name, or None."""
    from edgefer.classifiers import MODEL_SUFFIXES
    for suffix in MODEL_SUFFIXES:
        p = WEIGHTS_DIR / f"{name}{suffix}"
        if p.is_file():
            return p
    return None


def resolve_model(model: str | os.PathLike | None) -> Path:
    """Model file for ``None`` (the shipped default), a role (``default``, ``fast``, ``small``:
    :data:`ROLES`), a shipped model's name, or a path (``.pt`` checkpoint, ``.onnx`` export or
    ``.json`` ensemble manifest). A file of that name in the working folder wins over a role."""
    from edgefer.classifiers import MODEL_SUFFIXES
    if model is None:
        model = DEFAULT_MODEL
    if isinstance(model, str) and model in ROLES and not Path(model).exists():
        model = ROLES[model]
    p = Path(model)
    if p.suffix in MODEL_SUFFIXES or p.exists():
        if p.is_dir():
            raise IsADirectoryError(f"{p}: is a folder, not a model file")
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such model file")
        return p
    shipped = shipped_path(str(model))
    if shipped is not None:
        return shipped
    names = shipped_models()
    raise ValueError(f"model {str(model)!r} is neither a model file nor a shipped model; "
                     f"roles: {', '.join(ROLES)}; "
                     f"shipped: {', '.join(names) if names else 'none (train one with edgefer train)'}")


class Recognizer:
    """Recognize facial expressions with a trained model.

    Parameters
    ----------
    model : None (the shipped default, :data:`DEFAULT_MODEL`), a role (``"default"``,
        ``"fast"``, ``"small"``: :data:`ROLES`), a shipped model's name, or a model file
        (``.pt`` checkpoint, ``.onnx`` export, ``.json`` ensemble manifest).
    detector : a face detector's name (``haar``, the default, or ``mtcnn``; see
        :data:`~edgefer.preprocess.detectors.DETECTORS`), or a detector object with
        ``detect(image) -> list[FaceBox]``. Named detectors run on a copy downscaled to at most
        640 pixels a side.
    device : torch device (for ``.pt`` models).
    batch_size : faces per forward pass.
    threads : torch threads (set process-wide) and ONNX Runtime intra-op threads.
    eager_fusion : for ``.pt`` models with feature fusion, compute it in plain torch ops rather
        than the numba kernel (:func:`~edgefer.models.set_eager_fusion`): as fast for a few faces
        at a time (a photo, a video frame) and nothing to compile; the kernel is faster for
        large batches. For this recognizer's models only.

    Examples
    --------
    >>> rec = Recognizer()                          # doctest: +SKIP
    >>> [f.label for f in rec.predict("photo.jpg")] # doctest: +SKIP
    ['happy']
    """

    def __init__(self, model: str | os.PathLike | None = None, *, detector=None,
                 device: str = "cpu", batch_size: int = 256, threads: int | None = None,
                 eager_fusion: bool = False):
        from edgefer.classifiers import load_classifier
        self.path = resolve_model(model)
        if threads:
            torch.set_num_threads(threads)
        self.classifier = load_classifier(self.path, device=device, batch_size=batch_size, threads=threads,
                                          eager_fusion=eager_fusion)
        self.spec: PreprocessSpec = self.classifier.spec
        self.name = self.path.stem if self.path.parent == WEIGHTS_DIR else self.classifier.name
        self.device = device
        self.batch_size = batch_size
        if detector is None or isinstance(detector, str):
            from edgefer.preprocess.detectors import make_detector
            detector = make_detector(detector or "haar", max_side=640)
        elif not callable(getattr(detector, "detect", None)):
            raise TypeError(f"`detector` must be a detector name or have detect(image); "
                            f"got {type(detector).__name__}")
        self.detector = detector

    @property
    def info(self) -> dict:
        """Model name, file, kind, preprocessing, training data and scores (for --json and /api/models)."""
        return {**self.classifier.info, "name": self.name}

    def probabilities(self, pixels: np.ndarray) -> np.ndarray:
        """float (N, 7) class probabilities for uint8 model pixels (N, S, S)."""
        return self.classifier.probabilities(pixels)

    def classify_crops(self, crops) -> list[Face]:
        """Faces for ready face crops (gray or BGR uint8), each taken whole."""
        pixels = self.spec.crops([_gray(c) for c in crops])
        return [self._face((0, 0, c.shape[1], c.shape[0]), p, detected=False)
                for c, p in zip(crops, self.probabilities(pixels))]

    def predict(self, image, *, boxes=None, whole_if_none: bool = False) -> list[Face]:
        """Every face in ``image`` (NumPy BGR/gray uint8, a path, or a PIL image), largest first.

        ``boxes`` (x, y, w, h) skip detection; ``whole_if_none`` takes the whole image as the
        face when none is found. No face is a normal result: an empty list.
        """
        image = load_any(image)
        gray = _gray(image)
        if boxes is None:
            boxes = [f.as_tuple() for f in self.detector.detect(gray)]
            detected = True
        else:
            boxes, detected = [tuple(int(v) for v in b) for b in boxes], False
        if not boxes and whole_if_none:
            boxes, detected = [(0, 0, gray.shape[1], gray.shape[0])], False
        if not boxes:
            return []
        pixels = np.stack([self.spec.crop(gray, b) for b in boxes])
        return [self._face(b, p, detected) for b, p in zip(boxes, self.probabilities(pixels))]

    @staticmethod
    def _face(box, probs, detected: bool) -> Face:
        return face_from(box, probs, detected=detected)


def face_from(box, probabilities, *, detected: bool = True) -> Face:
    """The :class:`Face` of a box and its seven class probabilities (the most probable is the label)."""
    k = int(np.argmax(probabilities))
    return Face(box=tuple(int(v) for v in box), label=CLASSES[k],
                probabilities={c: float(p) for c, p in zip(CLASSES, probabilities)}, detected=detected)


def _gray(image: np.ndarray) -> np.ndarray:
    from edgefer.io import to_gray
    return to_gray(image)


def load_any(image) -> np.ndarray:
    """uint8 BGR or gray array from a NumPy array, a path, or a PIL image."""
    if isinstance(image, (str, os.PathLike)):
        from edgefer.io import read_image
        return read_image(image)
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise TypeError(f"`image` must be a uint8 array; got dtype {image.dtype}")
        if image.ndim not in (2, 3) or image.size == 0:
            raise ValueError(f"`image` must be (H, W) or (H, W, C) and non-empty; got shape {image.shape}")
        return image
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover
        Image = None
    if Image is not None and isinstance(image, Image.Image):
        from edgefer.io import _pil_to_array
        return _pil_to_array(image, gray=False)
    raise TypeError(f"`image` must be a NumPy array, a path or a PIL image; got {type(image).__name__}")

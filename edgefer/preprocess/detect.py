"""Face detection with OpenCV's Viola-Jones Haar cascade."""
from __future__ import annotations

import functools
import numbers
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgefer.io import to_gray
from edgefer.preprocess._checks import check_image, check_int

DEFAULT_CASCADE = "haarcascade_frontalface_default.xml"
"""OpenCV's frontal-face cascade (Viola and Jones 2001; trained by R. Lienhart).

Looked up in ``cv2.data.haarcascades``.
"""


@dataclass(frozen=True)
class FaceBox:
    """A detected face: box in the original image's pixels, and the detector's score.

    Attributes
    ----------
    x, y : int
        Top-left corner.
    w, h : int
        Width and height.
    score : float or None
        The detector's score: Haar's last-stage weight or MTCNN's face probability (larger is
        more face-like), ``None`` if unavailable.
    landmarks : tuple of (x, y) or None
        Five points (eye, eye, nose, mouth corner, mouth corner; left to right as seen in the
        image) from detectors that give them (MTCNN), else ``None``.
    """

    x: int
    y: int
    w: int
    h: int
    score: float | None = None
    landmarks: tuple[tuple[float, float], ...] | None = None

    @property
    def area(self) -> int:
        """w * h in pixels."""
        return self.w * self.h

    def as_tuple(self) -> tuple[int, int, int, int]:
        """(x, y, w, h)."""
        return self.x, self.y, self.w, self.h


def _default_cascade_path() -> Path:
    return Path(cv2.data.haarcascades) / DEFAULT_CASCADE


def _check_min_size(min_size) -> tuple[int, int]:
    try:
        pair = tuple(min_size)
    except TypeError:
        pair = ()
    if len(pair) != 2:
        raise TypeError(f"`min_size` must be 2 ints (w, h); got {min_size!r}.")
    return check_int(pair[0], "min_size[0]", minimum=1), check_int(pair[1], "min_size[1]", minimum=1)


class HaarFaceDetector:
    """Frontal-face detector built on ``cv2.CascadeClassifier``.

    Parameters
    ----------
    cascade_path : str or os.PathLike, optional
        Cascade XML file; ``None`` uses OpenCV's ``haarcascade_frontalface_default.xml``.
    scale_factor : float
        Step between the scanned window sizes, > 1 (``detectMultiScale``'s ``scaleFactor``).
    min_neighbors : int
        Overlapping raw detections needed to keep a face, >= 0.
    min_size : tuple of 2 int
        Smallest face (w, h) searched for, in original-image pixels.
    max_side : int, optional
        If set and the image's longer side is larger, detection runs on a copy shrunk
        (``cv2.INTER_AREA``) to this longer side, and the boxes are scaled back. Faster on
        big photos; faces below about 24 pixels in the shrunk copy are then missed.

    Raises
    ------
    FileNotFoundError
        If the cascade file is missing, empty or not a cascade (the message names the path).
    TypeError, ValueError
        For options of the wrong type or out of range.

    Examples
    --------
    >>> HaarFaceDetector().detect(np.zeros((64, 64), np.uint8))
    []
    """

    name = "haar"

    def __init__(self, cascade_path: str | os.PathLike | None = None, *, scale_factor: float = 1.1,
                 min_neighbors: int = 5, min_size: tuple[int, int] = (30, 30),
                 max_side: int | None = None):
        if isinstance(scale_factor, bool) or not isinstance(scale_factor, numbers.Real):
            raise TypeError(f"`scale_factor` must be a float > 1; got {type(scale_factor).__name__}.")
        if not scale_factor > 1.0:
            raise ValueError(f"`scale_factor` must be > 1; got {scale_factor}.")
        self.scale_factor = float(scale_factor)
        self.min_neighbors = check_int(min_neighbors, "min_neighbors", minimum=0)
        self.min_size = _check_min_size(min_size)
        self.max_side = None if max_side is None else check_int(max_side, "max_side", minimum=1)
        self.cascade_path = _default_cascade_path() if cascade_path is None else Path(cascade_path)
        self._cascade = _load_cascade(self.cascade_path)

    def __repr__(self) -> str:
        return (f"HaarFaceDetector({str(self.cascade_path)!r}, scale_factor={self.scale_factor}, "
                f"min_neighbors={self.min_neighbors}, min_size={self.min_size}, "
                f"max_side={self.max_side})")

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """Find faces in a uint8 gray (H, W), BGR (H, W, 3) or BGRA (H, W, 4) image.

        Returns
        -------
        list of FaceBox
            Largest first (ties: higher score, then top-left first), in the original
            image's pixel coordinates and inside the image; empty when there is no face.

        Raises
        ------
        TypeError, ValueError
            If ``image`` is not such an array.
        """
        check_image(image, ndim=(2, 3), channels=(3, 4))
        gray = to_gray(image)
        height, width = gray.shape
        scale = 1.0
        min_size = self.min_size
        if self.max_side is not None and max(height, width) > self.max_side:
            scale = self.max_side / max(height, width)
            small = (max(1, round(width * scale)), max(1, round(height * scale)))
            gray = cv2.resize(gray, small, interpolation=cv2.INTER_AREA)
            min_size = tuple(max(1, round(s * scale)) for s in min_size)
        rects, scores = self._detect_raw(gray, min_size)
        sx, sy = width / gray.shape[1], height / gray.shape[0]
        faces = []
        for (x, y, w, h), score in zip(rects, scores):
            x0, y0 = max(0, round(x * sx)), max(0, round(y * sy))
            x1, y1 = min(width, round((x + w) * sx)), min(height, round((y + h) * sy))
            if x1 > x0 and y1 > y0:
                faces.append(FaceBox(x0, y0, x1 - x0, y1 - y0, score))
        faces.sort(key=lambda f: (-f.area, -(f.score if f.score is not None else 0.0), f.y, f.x))
        return faces

    def _detect_raw(self, gray: np.ndarray, min_size: tuple[int, int]):
        """Rectangles and scores from OpenCV; scores are ``None`` without ``detectMultiScale3``."""
        opts = dict(scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors, minSize=min_size)
        if hasattr(self._cascade, "detectMultiScale3"):
            rects, _levels, weights = self._cascade.detectMultiScale3(
                gray, outputRejectLevels=True, **opts)
            scores = [float(s) for s in np.asarray(weights).ravel()]
        else:  # pragma: no cover - very old OpenCV builds
            rects = self._cascade.detectMultiScale(gray, **opts)
            scores = [None] * len(rects)
        rects = [tuple(int(v) for v in r) for r in np.asarray(rects).reshape(-1, 4)]
        return rects, scores


def _load_cascade(path: Path) -> cv2.CascadeClassifier:
    if not path.is_file():
        raise FileNotFoundError(f"Haar cascade file not found: {path}")
    cascade = cv2.CascadeClassifier()
    try:
        loaded = cascade.load(str(path))
    except (cv2.error, SystemError):
        loaded = False
    if not loaded or cascade.empty():
        raise FileNotFoundError(f"Haar cascade file is empty or not a valid cascade XML: {path}")
    return cascade


@functools.lru_cache(maxsize=8)
def _cached_detector(cascade_path, scale_factor, min_neighbors, min_size, max_side) -> HaarFaceDetector:
    return HaarFaceDetector(cascade_path, scale_factor=scale_factor, min_neighbors=min_neighbors,
                            min_size=min_size, max_side=max_side)


def get_detector(cascade_path: str | os.PathLike | None = None, *, scale_factor: float = 1.1,
                 min_neighbors: int = 5, min_size: tuple[int, int] = (30, 30),
                 max_side: int | None = None) -> HaarFaceDetector:
    """A shared :class:`HaarFaceDetector` for these options, built once and cached.

    Takes the same arguments as :class:`HaarFaceDetector`.
    """
    key_path = None if cascade_path is None else str(Path(cascade_path))
    try:
        key_size = tuple(min_size)
    except TypeError:
        key_size = min_size
    try:
        return _cached_detector(key_path, scale_factor, min_neighbors, key_size, max_side)
    except TypeError as exc:
        if "unhashable" not in str(exc):
            raise
        # Unhashable option values: build uncached, so the constructor reports them.
        return HaarFaceDetector(cascade_path, scale_factor=scale_factor,
                                min_neighbors=min_neighbors, min_size=min_size, max_side=max_side)


def detect_faces(image: np.ndarray, **options) -> list[FaceBox]:
    """Detect faces with a cached :class:`HaarFaceDetector` built from ``options``.

    Parameters
    ----------
    image : numpy.ndarray
        uint8 gray (H, W), BGR (H, W, 3) or BGRA (H, W, 4). Not modified.
    **options
        ``cascade_path``, ``scale_factor``, ``min_neighbors``, ``min_size``, ``max_side``
        as for :class:`HaarFaceDetector`.

    Returns
    -------
    list of FaceBox
        Largest first; empty when there is no face.

    Examples
    --------
    >>> detect_faces(np.zeros((64, 64, 3), np.uint8), min_neighbors=3)
    []
    """
    return get_detector(**options).detect(image)

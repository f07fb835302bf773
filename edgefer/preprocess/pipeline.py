"""The one place where an image becomes model-input pixels: gray, face crop, resize, equalize.

Conversion to float and normalization belong to the model-side code, not here.
"""
from __future__ import annotations

import numpy as np

from edgefer.io import to_gray
from edgefer.preprocess._checks import check_image, check_int
from edgefer.preprocess.detect import HaarFaceDetector, get_detector
from edgefer.preprocess.histogram import equalize_hist
from edgefer.preprocess.scale import normalize_scale


def _gray(image: np.ndarray) -> np.ndarray:
    check_image(image, ndim=(2, 3), channels=(3, 4))
    return to_gray(image)


def preprocess(image: np.ndarray, *, box=None, size: int = 48, equalize: bool = True,
               detector: HaarFaceDetector | None = None, detect: bool = False) -> np.ndarray:
    """Turn a photo or face image into a (size, size) uint8 model input.

    Steps: convert to gray; if ``detect`` and no ``box``, take the largest Haar face (the
    whole image when none is found); crop the box and resize it to ``size`` x ``size``
    bilinearly (:func:`normalize_scale`); equalize the histogram (:func:`equalize_hist`).

    Parameters
    ----------
    image : numpy.ndarray
        uint8 gray (H, W), BGR (H, W, 3) or BGRA (H, W, 4). Not modified.
    box : tuple of 4 int, or FaceBox, optional
        Face box (x, y, w, h) in pixels; used as given, even when ``detect`` is true.
    size : int
        Output side, >= 1.
    equalize : bool
        Apply histogram equalization after resizing.
    detector : HaarFaceDetector, optional
        Detector used when ``detect`` is true; default a shared ``HaarFaceDetector()``.
    detect : bool
        Look for a face when ``box`` is ``None``.

    Returns
    -------
    numpy.ndarray
        New uint8 array (size, size).

    Raises
    ------
    TypeError, ValueError
        For an image, box or size of the wrong type or shape, an empty box after clipping,
        or a ``detector`` given without ``detect=True`` (it would be silently unused).

    Notes
    -----
    To know which box was used, call :func:`~edgefer.preprocess.detect.detect_faces`
    and then :func:`preprocess_faces`.

    Examples
    --------
    >>> preprocess(np.full((120, 90, 3), 200, np.uint8)).shape
    (48, 48)
    """
    if detector is not None and not detect:
        raise ValueError("`detector` was given but `detect` is False; pass detect=True to use it.")
    gray = _gray(image)
    if detect and box is None:
        faces = (detector if detector is not None else get_detector()).detect(gray)
        box = faces[0] if faces else None
    face = normalize_scale(gray, box, size=size)
    return equalize_hist(face) if equalize else face


def preprocess_faces(image: np.ndarray, boxes, *, size: int = 48, equalize: bool = True) -> np.ndarray:
    """Preprocess several face boxes of one image into a batch.

    Parameters
    ----------
    image : numpy.ndarray
        uint8 gray (H, W), BGR (H, W, 3) or BGRA (H, W, 4). Not modified.
    boxes : iterable of FaceBox or (x, y, w, h)
        Face boxes, e.g. the output of ``detect_faces``.
    size, equalize
        As for :func:`preprocess`.

    Returns
    -------
    numpy.ndarray
        uint8 (N, size, size), row i from ``boxes[i]``; (0, size, size) for no boxes.

    Examples
    --------
    >>> preprocess_faces(np.zeros((60, 60), np.uint8), [(0, 0, 30, 30), (30, 30, 30, 30)]).shape
    (2, 48, 48)
    """
    gray = _gray(image)
    size = check_int(size, "size", minimum=1)
    faces = [normalize_scale(gray, box, size=size) for box in boxes]
    if equalize:
        faces = [equalize_hist(f) for f in faces]
    if not faces:
        return np.zeros((0, size, size), dtype=np.uint8)
    return np.stack(faces)

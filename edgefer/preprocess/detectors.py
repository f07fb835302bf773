"""Face detectors by name: ``haar`` (OpenCV's frontal cascade) and ``mtcnn`` (shipped CNN cascade)."""
from __future__ import annotations

from edgefer.preprocess.detect import HaarFaceDetector
from edgefer.preprocess.mtcnn import MTCNNFaceDetector

DETECTORS = ("haar", "mtcnn")
"""Names accepted by :func:`make_detector` (and ``--detector``)."""


def make_detector(name: str = "haar", *, max_side: int | None = None, **options):
    """A face detector by name, with ``detect(image) -> list[FaceBox]``.

    Parameters
    ----------
    name : ``haar`` or ``mtcnn``.
    max_side : detect on a copy shrunk to this longer side (both detectors), None: full size.
    **options : passed to :class:`HaarFaceDetector` or :class:`MTCNNFaceDetector`.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known ones).
    """
    if not isinstance(name, str) or name.lower() not in DETECTORS:
        raise ValueError(f"unknown face detector {name!r}; choose one of: {', '.join(DETECTORS)}")
    if name.lower() == "haar":
        return HaarFaceDetector(max_side=max_side, **options)
    return MTCNNFaceDetector(max_side=max_side, **options)

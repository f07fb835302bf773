"""Preprocessing: face detection, scale normalization, histogram equalization, Kirsch edges."""
from edgefer.preprocess.detect import FaceBox, HaarFaceDetector, detect_faces, get_detector
from edgefer.preprocess.edges import kirsch, kirsch_reference
from edgefer.preprocess.histogram import equalize_hist
from edgefer.preprocess.kernels import KIRSCH_DIRECTIONS, KIRSCH_KERNELS, RING_OFFSETS
from edgefer.preprocess.pipeline import preprocess, preprocess_faces
from edgefer.preprocess.scale import clip_box, normalize_scale

__all__ = [
    "KIRSCH_DIRECTIONS",
    "KIRSCH_KERNELS",
    "RING_OFFSETS",
    "FaceBox",
    "HaarFaceDetector",
    "clip_box",
    "detect_faces",
    "equalize_hist",
    "get_detector",
    "kirsch",
    "kirsch_reference",
    "normalize_scale",
    "preprocess",
    "preprocess_faces",
]

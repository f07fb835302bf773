"""Data set items -> uint8 model pixels (N, S, S), through the model's preprocessing.

Face crops (FER-2013) are scaled and equalized; whole photos (LFW) first go through Haar
detection (largest face; the whole photo when none is found, counted). Results for photos
are cached outside the repository, since detection over thousands of photos takes minutes.
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np

from edgefer.data._cache import cache_dir
from edgefer.data.dataset import FaceDataset
from edgefer.preprocess.spec import PreprocessSpec

log = logging.getLogger(__name__)


def dataset_pixels(ds: FaceDataset, spec: PreprocessSpec, *, detect: bool | None = None,
                   detector=None, progress: bool = False) -> tuple[np.ndarray, dict]:
    """Model pixels (N, S, S) uint8 for every item, and counts ``{"no_face": k}`` for photos.

    ``detect`` defaults to ``ds.needs_detection``.
    """
    detect = ds.needs_detection if detect is None else detect
    n = len(ds)
    size = spec.input_size
    if not detect:
        if isinstance(ds.images, np.ndarray) and ds.images.ndim == 3 \
                and ds.images.shape[1:] == (size, size) and not spec.equalize:
            return ds.images.copy(), {}
        return spec.crops(_iter_progress(ds.images, progress, "preprocess")), {}
    key = detection_cache_key(ds.sources, spec, detector)
    folder = cache_dir()
    path = folder / f"detected-{key}.npz" if folder is not None else None
    if path is not None and path.exists():
        with np.load(path) as z:
            return z["pixels"], {"no_face": int(z["no_face"])}
    from edgefer.preprocess.detect import HaarFaceDetector
    detector = detector or HaarFaceDetector()
    out = np.empty((n, size, size), np.uint8)
    no_face = 0
    for i in _iter_progress(range(n), progress, "detect faces"):
        image = ds.images[i]
        faces = detector.detect(image)
        box = faces[0].as_tuple() if faces else None
        no_face += box is None
        out[i] = spec.crop(image, box)
    if no_face:
        log.warning("%d of %d photos had no face (%s); their whole image was used", no_face, n,
                    getattr(detector, "name", type(detector).__name__))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, pixels=out, no_face=no_face)
        os.replace(tmp, path)
    return out, {"no_face": no_face}


def detection_cache_key(sources, spec: PreprocessSpec, detector=None) -> str:
    """What detected model pixels depend on: the preprocessing, the photos (by real path, so that
    ``../shared/datasets/lfw`` and its absolute path share one entry) and the detector's settings."""
    real = [os.path.realpath(s) for s in sources]
    return hashlib.sha1(repr((sorted(spec.to_dict().items()), real,
                              getattr(detector, "params", None))).encode()).hexdigest()[:16]


class _Progress:
    def __init__(self, seq, desc):
        from tqdm import tqdm
        self.seq, self.bar = seq, tqdm(total=len(seq), desc=desc, unit="img", leave=False)

    def __len__(self):
        return len(self.seq)

    def __getitem__(self, i):
        self.bar.update(1)
        if i == len(self.seq) - 1:
            self.bar.close()
        return self.seq[i]

    def __iter__(self):
        for i in range(len(self.seq)):
            yield self[i]


def _iter_progress(seq, progress: bool, desc: str):
    return _Progress(seq, desc) if progress else seq
